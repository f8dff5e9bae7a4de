from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.api.serializers import CallbackCreateInputSerializer, CallbackRequestOutputSerializer
from callbacks.models import CallbackRequest
from callbacks.selectors import callback_requests_of_traveler, queue_estimate
from callbacks.services import callback_request_cancel, callback_request_create
from core.exceptions import NotFoundError
from core.pagination import PageNumberPagination


def _with_estimates(requests: list[CallbackRequest]) -> list[CallbackRequest]:
    now = timezone.now()
    for request in requests:
        request.estimate = queue_estimate(request, now=now)
    return requests


def _one(request: Request, pk: int) -> CallbackRequest:
    found = callback_requests_of_traveler(traveler=request.user).filter(pk=pk).first()
    if found is None:
        raise NotFoundError()
    return _with_estimates([found])[0]


class CallbackRequestListCreateView(APIView):
    """The signed-in traveler's call-back requests: list them, or ask for a call from a diplomat."""

    @extend_schema(operation_id="callbacks_list", responses=CallbackRequestOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(callback_requests_of_traveler(traveler=request.user), request, view=self)
        return paginator.get_paginated_response(CallbackRequestOutputSerializer(_with_estimates(page), many=True).data)

    @extend_schema(
        operation_id="callbacks_create",
        request=CallbackCreateInputSerializer,
        responses={201: CallbackRequestOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = CallbackCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = callback_request_create(traveler=request.user, **data.validated_data)
        return Response(CallbackRequestOutputSerializer(_one(request, created.pk)).data, status=status.HTTP_201_CREATED)


class CallbackRequestDetailView(APIView):
    @extend_schema(operation_id="callbacks_retrieve", responses=CallbackRequestOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(CallbackRequestOutputSerializer(_one(request, pk)).data)


class CallbackRequestCancelView(APIView):
    @extend_schema(operation_id="callbacks_cancel", request=None, responses=CallbackRequestOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        callback_request_cancel(traveler=request.user, request_id=pk)
        return Response(CallbackRequestOutputSerializer(_one(request, pk)).data)

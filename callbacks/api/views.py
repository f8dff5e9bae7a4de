from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.api.serializers import (
    CallbackAlreadyOpenProblemSerializer,
    CallbackCreateInputSerializer,
    CallbackCreateProblemSerializer,
    CallbackLimitProblemSerializer,
    CallbackNotCancellableProblemSerializer,
    CallbackProblemSerializer,
    CallbackRequestOutputSerializer,
)
from callbacks.models import CallbackRequest
from callbacks.selectors import callback_requests_of_traveler, queue_estimate
from callbacks.services import callback_request_cancel, callback_request_create
from core.exceptions import PROBLEM_CONTENT_TYPE, NotFoundError
from core.pagination import PageNumberPagination
from travelers.authentication import request_traveler


def _with_estimates(requests: list[CallbackRequest]) -> list[CallbackRequest]:
    now = timezone.now()
    for request in requests:
        request.estimate = queue_estimate(request, now=now)  # type: ignore[attr-defined]  # read by the serializer
    return requests


def _one(request: Request, pk: int) -> CallbackRequest:
    found = callback_requests_of_traveler(traveler=request_traveler(request)).filter(pk=pk).first()
    if found is None:
        raise NotFoundError()
    return _with_estimates([found])[0]


class CallbackRequestListCreateView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="callbacks_list",
        summary="The traveler's own call-back requests, newest first",
        responses=CallbackRequestOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            callback_requests_of_traveler(traveler=request_traveler(request)), request, view=self
        )
        return paginator.get_paginated_response(
            CallbackRequestOutputSerializer(_with_estimates(page or []), many=True).data
        )

    @extend_schema(
        operation_id="callbacks_create",
        summary="Ask a diplomat to call (only in countries with call-backs)",
        request=CallbackCreateInputSerializer,
        responses={
            201: CallbackRequestOutputSerializer,
            (400, PROBLEM_CONTENT_TYPE): CallbackCreateProblemSerializer,
            (409, PROBLEM_CONTENT_TYPE): CallbackAlreadyOpenProblemSerializer,
            (429, PROBLEM_CONTENT_TYPE): CallbackLimitProblemSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = CallbackCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # One unit: a request the traveler was not shown (any failure after the insert) is not kept, so a
        # retry creates it instead of meeting it as "already open".
        with transaction.atomic():
            created = callback_request_create(traveler=request_traveler(request), **data.validated_data)
            body = CallbackRequestOutputSerializer(_one(request, created.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


class CallbackRequestDetailView(APIView):
    @extend_schema(
        operation_id="callbacks_retrieve",
        summary="One of the traveler's requests: status, position, estimated wait, calls, outcome",
        responses={200: CallbackRequestOutputSerializer, (404, PROBLEM_CONTENT_TYPE): CallbackProblemSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(CallbackRequestOutputSerializer(_one(request, pk)).data)


class CallbackRequestCancelView(APIView):
    @extend_schema(
        operation_id="callbacks_cancel",
        summary="Withdraw a waiting request (again: no change)",
        request=None,
        responses={
            200: CallbackRequestOutputSerializer,
            (404, PROBLEM_CONTENT_TYPE): CallbackProblemSerializer,
            (409, PROBLEM_CONTENT_TYPE): CallbackNotCancellableProblemSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        callback_request_cancel(traveler=request_traveler(request), request_id=pk)
        return Response(CallbackRequestOutputSerializer(_one(request, pk)).data)

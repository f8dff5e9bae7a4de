"""Public, read-only endpoints of the countries app (no sign-in, no authentication at all).

Responses are rendered JSON bytes with a strong ETag (a hash of the bytes); `If-None-Match` answers 304.
The country pack comes from the cache, so its 304 costs one cache round trip and no database query.
"""

from __future__ import annotations

import hashlib

from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from countries.api.serializers import (
    CountryListItemOutputSerializer,
    CountryListQuerySerializer,
    CountryPackOutputSerializer,
    MissionListQuerySerializer,
    MissionOutputSerializer,
)
from countries.representation import country_list_items, language_of, mission_document
from countries.selectors import country_list, missions_list
from countries.services import country_pack_get

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the copy you hold; answered with 304 Not Modified if it is still current.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: the copy with this ETag is current. No body.")
ACCEPT_LANGUAGE = OpenApiParameter(
    "Accept-Language",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="`ru` (default) or `en`.",
)


def _etag_matches(header: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if not header:
        return False
    if header == etag:  # what apps send back: the ETag they were given
        return True
    tags = parse_etags(header)
    return "*" in tags or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}


def _conditional_json(request: Request, body: bytes, etag: str) -> HttpResponse:
    response: HttpResponse
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    # Clients may store the document (offline use) but must revalidate it before trusting it as current.
    response["Cache-Control"] = "public, no-cache"
    return response


def _language() -> str:
    return language_of(get_language())


class CountryListView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="countries_list",
        summary="Every country (unpaginated), for the country list and delta sync",
        parameters=[
            OpenApiParameter(
                "updated_since",
                OpenApiTypes.DATETIME,
                description="Only countries whose pack changed after this instant (ISO 8601; for delta sync send "
                "the greatest `updated_at` you hold).",
            ),
            IF_NONE_MATCH,
            ACCEPT_LANGUAGE,
        ],
        responses={200: CountryListItemOutputSerializer(many=True), 304: NOT_MODIFIED},
    )
    def get(self, request: Request) -> HttpResponse:
        query = CountryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        language = _language()
        items = country_list_items(country_list(**query.validated_data), language=language)
        body = JSONRenderer().render(items)
        return _conditional_json(request, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


class CountryPackView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def dispatch(self, request, *args, **kwargs):
        """GET goes straight to the cache: for a public, unauthenticated, JSON-only document DRF's request
        wrapping, content negotiation, permission and throttle checks have nothing to decide, and skipping them
        keeps the 304 path close to a bare view (bench/api_read.py). Errors and other methods take DRF's path,
        so they are still problem+json."""
        if request.method == "GET":
            try:
                return self.get(request, **kwargs)
            except ApplicationError:
                pass  # rendered by DRF's exception handling below
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="countries_pack",
        summary="The offline pack of one country: content, advisories, emergency numbers, missions, alerts",
        parameters=[
            OpenApiParameter(
                "code",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="ISO 3166-1 alpha-2, any case",
                pattern="^[A-Za-z]{2}$",
            ),
            IF_NONE_MATCH,
            ACCEPT_LANGUAGE,
        ],
        responses={200: CountryPackOutputSerializer, 304: NOT_MODIFIED},
    )
    def get(self, request: Request, code: str) -> HttpResponse:
        pack = country_pack_get(code=code, language=_language())
        return _conditional_json(request, pack.body, pack.etag)


class MissionListView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="missions_list",
        summary="Russian missions abroad (unpaginated: the app keeps the whole directory offline)",
        parameters=[
            OpenApiParameter(
                "country", OpenApiTypes.STR, description="ISO 3166-1 alpha-2, any case", pattern="^[A-Za-z]{2}$"
            ),
            OpenApiParameter(
                "near",
                OpenApiTypes.STR,
                description="`latitude,longitude` in degrees: sorts by distance and fills `distance_km`",
                pattern=r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
            ),
            ACCEPT_LANGUAGE,
        ],
        responses={200: MissionOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> HttpResponse:
        query = MissionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        language, now = _language(), timezone.now()
        documents = [
            mission_document(mission, language=language, at=now, distance_km=distance)
            for mission, distance in missions_list(**query.validated_data)
        ]
        return HttpResponse(JSONRenderer().render(documents), content_type="application/json")

"""Every 4xx/5xx is RFC 9457 problem+json with a stable `code`, in the request's language, without tracebacks.

Some cases use the real endpoints; the others use small DRF views defined here and a URLconf that adds them to
the project's (`@pytest.mark.urls(__name__)`), since no public endpoint raises on purpose.
"""

import pytest
from django.test import Client
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

import config.urls

PROBLEM = "application/problem+json"


class OncePerMinute(AnonRateThrottle):
    scope = "test-once-per-minute"
    rate = "1/minute"


class ErrorsInputSerializer(serializers.Serializer):
    name = serializers.CharField()
    age = serializers.IntegerField(min_value=0)


class ErrorsSingleCodeInputSerializer(serializers.Serializer):
    date = serializers.CharField()

    def validate_date(self, value):
        raise serializers.ValidationError("The date must be in the future.", code="expires_in_past")


class PublicView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []


class ValidateView(PublicView):
    def post(self, request):
        ErrorsInputSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({})


class SingleCodeView(PublicView):
    def post(self, request):
        ErrorsSingleCodeInputSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({})


class ThrottledView(PublicView):
    throttle_classes = [OncePerMinute]

    def get(self, request):
        return Response({"ok": True})


class BoomView(PublicView):
    def get(self, request):
        raise RuntimeError("secret internal detail: password=hunter2")


def plain_django_boom(request):
    raise RuntimeError("secret internal detail from a plain view")


urlpatterns = [
    path("api/test/validate/", ValidateView.as_view()),
    path("api/test/single-code/", SingleCodeView.as_view()),
    path("api/test/throttled/", ThrottledView.as_view()),
    path("api/test/boom/", BoomView.as_view()),
    path("api/test/plain-boom/", plain_django_boom),
    *config.urls.urlpatterns,
]
handler404 = "core.views.handler404"
handler500 = "core.views.handler500"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/{code}")
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing/", "/api/nothing", "/api/v1/countries/AM/extra/"])
def test_an_unknown_api_path_is_a_404_problem(db, url):
    assert_problem(Client().get(url), 404, "not_found")


def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(db):
    response = Client().put("/api/v1/missions/", data={}, content_type="application/json")
    body = assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert "PUT" in body["detail"]


def test_errors_speak_the_requests_language(db):
    russian = Client().delete("/api/v1/countries/")
    english = Client().delete("/api/v1/countries/", HTTP_ACCEPT_LANGUAGE="en")
    assert assert_problem(russian, 405, "method_not_allowed")["detail"] == 'Метод "DELETE" не разрешен.'
    assert assert_problem(english, 405, "method_not_allowed")["detail"] == 'Method "DELETE" not allowed.'
    assert assert_problem(english, 405, "method_not_allowed")["title"] == "Method not allowed"


@pytest.mark.urls(__name__)
def test_a_validation_error_is_a_400_listing_every_field(db):
    response = Client().post("/api/test/validate/", {"age": -1}, content_type="application/json")
    body = assert_problem(response, 400, "validation_error")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {("name", "required"), ("age", "min_value")}


@pytest.mark.urls(__name__)
def test_a_single_custom_field_code_becomes_the_problem_code(db):
    response = Client().post("/api/test/single-code/", {"date": "2020-01-01"}, content_type="application/json")
    body = assert_problem(response, 400, "expires_in_past")
    assert body["errors"] == [{"field": "date", "code": "expires_in_past", "detail": "The date must be in the future."}]


@pytest.mark.urls(__name__)
def test_malformed_json_is_a_400_parse_error(db):
    response = Client().post("/api/test/validate/", "{not json", content_type="application/json")
    assert_problem(response, 400, "parse_error")


@pytest.mark.urls(__name__)
def test_throttling_is_a_429_with_retry_after(db):
    client = Client()
    assert client.get("/api/test/throttled/").status_code == 200
    response = client.get("/api/test/throttled/")
    body = assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert body["retry_after"] == int(response["Retry-After"])


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/api/test/boom/", "/api/test/plain-boom/"])
def test_a_crash_is_a_500_problem_without_a_traceback(db, settings, url):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get(url)
    body = assert_problem(response, 500, "server_error")
    text = response.content.decode()
    assert "Traceback" not in text
    assert "secret internal detail" not in text
    assert set(body) == {"type", "title", "status", "detail", "code"}


def test_the_staff_panel_keeps_html_pages_for_its_own_404(db):
    response = Client().get("/admin-nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")

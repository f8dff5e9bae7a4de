"""Project-wide plain views: health check and the problem+json answers for Django's own 404/500."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found, server_error

from core.exceptions import problem_json_response

logger = logging.getLogger(__name__)

# Extra checks registered by apps (e.g. alerts: stuck deliveries). Each returns (name, ok, details).
HEALTH_CHECKS: list = []


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        connection.close_if_unusable_or_obsolete()
        return False


def _check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        return "in-process"
    if not url.startswith(("redis://", "rediss://")):
        return "unchecked"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except redis.RedisError:
        return "unreachable"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Public: 200 when the database answers, 503 when it does not. The broker is reported, not required:
    publishing works without it and the sweeper catches up when it returns."""
    database_ok = _check_database()
    body: dict = {"database": "ok" if database_ok else "unreachable", "broker": _check_broker()}
    degraded = False
    if database_ok:
        for check in HEALTH_CHECKS:
            name, ok, details = check()
            body[name] = details
            degraded = degraded or not ok
    body["status"] = "ok" if database_ok and not degraded else ("degraded" if database_ok else "unavailable")
    return JsonResponse(body, status=200 if database_ok else 503)


def _wants_problem(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/healthz"))


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_problem(request):
        return problem_json_response(status_code=404, code="not_found", detail=_("Not found."))
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_problem(request):
        return problem_json_response(
            status_code=500, code="server_error", detail=_("An unexpected error occurred. It has been logged.")
        )
    return server_error(request)

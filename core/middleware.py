import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from core.exceptions import problem_json_response

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """An unreachable database is a 503 problem (with Retry-After) instead of a 500 with a traceback.

    The connection timeout (DATABASE_CONNECT_TIMEOUT) bounds how long a request waits for it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError) or (
            isinstance(exception, DatabaseError) and "connection" in str(exception).lower()
        ):
            logger.warning("database unavailable: %s", exception)
            response = problem_json_response(
                status_code=503,
                code="service_unavailable",
                detail=_("The service is temporarily unavailable. Please try again shortly."),
            )
            response["Retry-After"] = "10"
            return response
        return None

import logging
import sqlite3

from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from core.exceptions import problem_json_response

logger = logging.getLogger(__name__)


# SQLSTATEs that mean "the server is not there for us" rather than "this statement is wrong": class 08
# (connection exception), the server shutting down or starting up (57P01-57P03), too many connections (53300).
UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked", "disk i/o error")


def is_connection_failure(exception: BaseException) -> bool:
    """The database cannot be reached (a 503 and a retry help), as opposed to an error in what was sent to it
    (a syntax error, an unknown function: a bug, which stays a 500 and is logged with its traceback)."""
    if not isinstance(exception, DatabaseError):
        return False
    if isinstance(exception, InterfaceError):  # the connection is closed or broken
        return True
    cause = exception.__cause__
    if isinstance(cause, sqlite3.Error):
        return isinstance(cause, sqlite3.OperationalError) and str(cause).lower().startswith(SQLITE_UNAVAILABLE)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES
    # psycopg sets no SQLSTATE on failures of the client side: refused, timed out, server closed the connection.
    return isinstance(exception, OperationalError) or "connection" in str(exception).lower()


class DatabaseUnavailableMiddleware:
    """An unreachable database is a 503 problem (with Retry-After) instead of a 500 with a traceback.

    The connection timeout (DATABASE_CONNECT_TIMEOUT) bounds how long a request waits for it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_connection_failure(exception):
            logger.warning("database unavailable: %s", exception)
            response = problem_json_response(
                status_code=503,
                code="service_unavailable",
                detail=_("The service is temporarily unavailable. Please try again shortly."),
            )
            response["Retry-After"] = "10"
            return response
        return None

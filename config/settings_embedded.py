"""What `make run` runs on with nothing configured: SQLite, in-process (eager) tasks, local-memory cache.

Used by the embedded-default test job (tests/embedded/, run by tests/test_embedded_default.py) so that every
feature is tried on the default a newcomer gets, not only on PostgreSQL and Redis.
"""

import os

for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(name, None)
os.environ["DJANGO_DEBUG"] = "true"  # as `make run`
os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"

from config.settings import *  # noqa: E402, F403

SMS_BACKEND = "locmem"  # the journey reads its sign-in code and pushes from the outboxes
PUSH_BACKEND = "locmem"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

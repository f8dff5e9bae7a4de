"""A staff member pressing "Take next" until the queue is empty, in its own OS process and DB connection.

Used by test_concurrency.py: `python -m tests.callbacks.claim_worker <mission_id> <staff_id>` with
DATABASE_URL pointing at the test database. Prints "ready", waits for a line on stdin (the start signal,
so that every process starts claiming at the same moment), then prints the claimed ids as one JSON list.
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from callbacks.services import callback_request_claim_next
    from countries.models import Mission

    mission = Mission.objects.get(pk=int(sys.argv[1]))
    staff = get_user_model().objects.get(pk=int(sys.argv[2]))
    print("ready", flush=True)
    sys.stdin.readline()
    claimed = []
    while (request := callback_request_claim_next(staff=staff, mission=mission)) is not None:
        claimed.append(request.pk)
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    main()

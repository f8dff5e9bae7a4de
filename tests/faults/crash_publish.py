"""Publish an alert and die between the commit and the enqueue of its kickoff (run as a subprocess by
test_crash_before_enqueue.py): `python -m tests.faults.crash_publish <alert id> <user id>`.

The process exits with CRASH_EXIT_CODE from inside the on-commit hook, before anything reaches the broker,
as a web process killed at that instant (OOM, deploy, power) would."""

import os
import sys

CRASH_EXIT_CODE = 70


def main(alert_id: int, user_id: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from alerts.models import Alert
    from alerts.services import alert_publish
    from core import queue

    def crash(task_name, *args, **options):  # the on-commit enqueue: the transaction is committed, nothing is sent
        os._exit(CRASH_EXIT_CODE)

    queue.enqueue = crash
    alert_publish(alert=Alert.objects.get(pk=alert_id), user=get_user_model().objects.get(pk=user_id))
    sys.exit(0)  # not reached


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))

"""`make run`: migrate, load the reference data, create demo staff logins, start the service.

With nothing configured: SQLite and in-process tasks. With CELERY_BROKER_URL set, a worker and beat
are started beside the web server and stopped with it.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    manage("migrate", "--noinput")
    manage("load_reference_data")
    manage("create_demo_staff")
    children: list[subprocess.Popen] = []
    if os.environ.get("CELERY_BROKER_URL"):
        celery = str(Path(PY).with_name("celery"))
        children.append(subprocess.Popen([celery, "-A", "config", "worker", "--loglevel=INFO", "-B"], cwd=ROOT))
        print("Celery worker (with beat) started on", os.environ["CELERY_BROKER_URL"])
    else:
        print("No CELERY_BROKER_URL: tasks run in-process (development mode).")
    print(
        "API: http://127.0.0.1:8000/api/v1/  docs: http://127.0.0.1:8000/api/docs/  staff: http://127.0.0.1:8000/admin/"
    )
    try:
        return subprocess.call([PY, "manage.py", "runserver", "127.0.0.1:8000", "--noreload"], cwd=ROOT)
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

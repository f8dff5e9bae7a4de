"""Configuration invariants: production settings pass Django's deploy checks, every variable is documented."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_check(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_deploy_checks():
    result = _run_check(
        {
            "DJANGO_SECRET_KEY": "x" * 20 + "production-like-secret-key-" + "y" * 20,
            "DJANGO_ALLOWED_HOSTS": "api.example.org",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_outside_debug():
    result = _run_check({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_is_off_by_default():
    code = "from django.conf import settings; print(settings.DEBUG)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_SECRET_KEY": "z" * 60})
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr


def test_env_example_lists_every_variable_the_settings_read():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:bool|int|list)\(\s*"([A-Z0-9_]+)"', settings_source))
    read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', settings_source))
    documented = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    missing = sorted(read - documented)
    assert not missing, f"variables read by config/settings.py but missing from .env.example: {missing}"


def _test_settings_urls(worker: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env.update(
        {"PYTEST_XDIST_WORKER": worker, "REDIS_URL": "redis://127.0.0.1:6379/1", "CELERY_BROKER_URL": "redis://h/2"}
    )
    code = "import config.settings_test as s, os; print(s.REDIS_URL, s.CELERY_BROKER_URL, os.environ['REDIS_URL'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


def test_each_xdist_process_gets_redis_databases_of_its_own():
    """`make test` runs two pytest processes: their cache and broker must never be the same Redis database, and
    the workers they start inherit the shifted URLs through the environment."""
    assert _test_settings_urls("gw0") == ["redis://127.0.0.1:6379/1", "redis://h/2", "redis://127.0.0.1:6379/1"]
    assert _test_settings_urls("gw1") == ["redis://127.0.0.1:6379/5", "redis://h/6", "redis://127.0.0.1:6379/5"]

"""Settings for benchmarks only: the project's settings with a URLconf that adds baseline views."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"

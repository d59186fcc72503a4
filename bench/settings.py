"""Production settings plus a bare view, for the load benchmarks only."""

from b12site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False}

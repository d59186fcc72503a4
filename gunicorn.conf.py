"""gunicorn's settings, read from the working directory when serving with ``gunicorn b12site.wsgi``.

The access log is off unless GUNICORN_ACCESS_LOG names a file (or "-" for standard output); when on, its lines
never hold a calendar-feed address or an API token (b12site.redact.GunicornLogger)."""

import os

logger_class = "b12site.redact.GunicornLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None

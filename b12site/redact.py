"""Secrets never reach a log: calendar-feed addresses and API tokens are cut out of every log line.

A feed address is a password in a URL (calendar clients cannot log in), so the access log of gunicorn or runserver
and Django's own request logging ("Not Found: /feeds/worklist/….ics") would otherwise keep working credentials.
``RedactSecrets`` is a logging filter for Django's handlers (settings.LOGGING); ``GunicornLogger`` is gunicorn's
logger class (gunicorn.conf.py), redacting the access log's fields before they are formatted."""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# The secret part of a feed address, whatever it holds, up to the .ics (or the end of the path).
_FEED_PATH = re.compile(r"(/feeds/[\w-]+/)[^/?#\s\"']+?(\.ics|(?=[?#\s\"']|$))")
# Any token this site issues ("b12_" + 43 URL-safe characters), wherever it appears: a header, a query, a referrer.
_TOKEN = re.compile(r"b12_[A-Za-z0-9_-]{16,}")
# An Authorization header's credentials.
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def redact(text: str) -> str:
    if not isinstance(text, str) or not text:
        return text
    text = _FEED_PATH.sub(rf"\1{REDACTED}\2", text)
    text = _TOKEN.sub(f"b12_{REDACTED}", text)
    return _BEARER.sub(rf"\1{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with secrets cut out (the record's arguments are merged into it first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own business
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with every access-log field (request line, path, query, referrer, headers) redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}

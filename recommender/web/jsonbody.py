"""Reading a JSON request body strictly: exact decimals, no NaN or Infinity, no duplicate keys, a size limit.

A duplicate key is refused rather than letting the last one win: a client that sends ``{"b12": …, "b12": …}`` has
a bug, and a recommendation made on whichever value came last would hide it."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest


class BodyTooLarge(ValueError):
    pass


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key[:60]
        super().__init__(f"“{self.key}” is given more than once; send each key once.")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = f"{limit // 1024} KB" if limit and limit < 1024 * 1024 else f"{(limit or 0) / (1024 * 1024):g} MB"
    return f"The request body is larger than this service accepts ({size})."


def read_json(request: HttpRequest):
    """The body parsed; numbers exactly as written (Decimal), so that 179.6 is compared as 179.6.

    Raises BodyTooLarge, DuplicateKey, or ValueError / RecursionError for anything else that is not JSON."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise BodyTooLarge(too_large_message()) from None
    return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_unique_pairs)

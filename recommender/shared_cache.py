"""Reads many requests make (a token user's permissions, the lab profiles, the clinic's sessions), kept in the cache
every node shares (a browser's user has its permissions with its session: recommender/access/sessions.py).

With REDIS_URL set, all nodes share one cache, and a change on any node is seen by every node at once: each kind
of entry belongs to a *generation*, and a change writes a new generation (after its transaction commits), which
every older entry fails to match. Without it the cache is Django's dummy cache and every read goes to the database,
which is also right however many workers run. A cache that cannot be reached is skipped, never an error."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.db import transaction
from django.utils import translation

log = logging.getLogger("recommender.cache")

# The longest an entry lives. A change retires it at once; this bounds the one case a change cannot reach it: the
# cache was unreachable at the moment of the change and came back still holding the entry.
TIMEOUT_SECONDS = 300
PERMISSIONS = "permissions"
LAB_PROFILES = "lab-profiles"
# The home page's caseload figures: counted over every plan, retired by any plan or assessment saved.
CASELOAD = "caseload"
# The clinic-wide lists of the clinician's and the nurse's home page, rendered (recommender/home/views.py): retired
# by any change to a patient, an assessment, a plan, a dose, a user's name or the clinic's calendar.
CLINIC_LISTS = "clinic-lists"
# What every record's cached pages show beyond the record itself (people's names): with ``record(...)`` below.
RECORDS = "records"
# Every booking at once: a slot proposed to one plan is free only while no other plan has taken it.
BOOKINGS = "bookings"
# Booking: the clinic's sessions, their one-off changes, the locations and the closures (recommender/appointments).
CLINIC_SESSIONS = "clinic-sessions"
# API and calendar-feed tokens with their users (recommender/access/selectors.py).
ACCESS_TOKENS = "access-tokens"


def _code_version() -> str:
    """What the code that makes the cached values is: B12_RELEASE when the deployment sets it (the git commit), else
    a digest of the app's source and templates. Entries are kept per version, since a value pickled by one release
    may not read right in another (a row's fields by position); generations are shared by all, so a change made on
    a node still running the previous release retires the new release's entries during a rolling deploy."""
    release = os.environ.get("B12_RELEASE", "")
    if release:
        return release[:40]
    root = Path(__file__).resolve().parent
    sources = sorted([*root.rglob("*.py"), *(root.parent / "templates").rglob("*.html")])
    code = b"".join(path.read_bytes() for path in sources if "migrations" not in path.parts)
    return hashlib.sha256(code).hexdigest()[:16]


CODE_VERSION = _code_version()


def _shared() -> bool:
    return not isinstance(caches["default"], DummyCache)


def is_shared() -> bool:
    """Whether there is a shared cache (else every read goes to the database)."""
    return _shared()


def _generation_key(name: str) -> str:
    return f"generation:{name}"


def _entry_key(name: str, key: str) -> str:
    return f"{name}:{CODE_VERSION}:{key}"


# What ``prefetched`` read in one round trip: key -> value (None: absent), for the reads that follow in its block.
_prefetched: ContextVar[dict[str, object] | None] = ContextVar("shared_cache_prefetched", default=None)


@contextmanager
def prefetched(*entries: str | tuple[str, str]) -> Iterator[None]:
    """Inside the block, these reads cost no round trip of their own: one read of the shared cache fetches them
    all first. Each entry is a generation name (for ``process_through``) or a (name, key) pair (for
    ``read_through``). A read not listed goes to the cache as usual; ``changed`` forgets what it retires."""
    if not _shared():
        yield
        return
    keys = []
    for entry in entries:
        name, key = entry if isinstance(entry, tuple) else (entry, None)
        keys.append(_generation_key(name))
        if key is not None:
            keys.append(_entry_key(name, key))
    try:
        found = cache.get_many(keys)
    except Exception:
        log.warning("shared cache unavailable: nothing prefetched")
        found = None
    token = _prefetched.set(None if found is None else {key: found.get(key) for key in keys})
    try:
        yield
    finally:
        _prefetched.reset(token)


def _remember(values: dict[str, object]) -> None:
    """What was just stored, for the rest of the block that prefetched it."""
    memo = _prefetched.get()
    if memo is not None:
        for key in values.keys() & memo.keys():
            memo[key] = values[key]


def _read(keys: list[str]) -> dict[str, object]:
    """These keys from what was prefetched when all of them were, else from the shared cache."""
    memo = _prefetched.get()
    if memo is not None and all(key in memo for key in keys):
        return {key: memo[key] for key in keys if memo[key] is not None}
    return cache.get_many(keys)


def read_through[T](
    name: str | tuple[str, ...], key: str, compute: Callable[[], T], *, valid: Callable[[T], bool] | None = None
) -> T:
    """``compute()``, from the shared cache while generation ``name`` (or each of several) has not changed since it
    was stored. Several: an entry that depends on a record and on the clinic's calendar is retired by either.
    ``valid``: whether a kept value still holds (one that depends on the time of day); if not, it is read again."""
    if not _shared():
        return compute()
    names = (name,) if isinstance(name, str) else name
    generation_keys, entry_key = [_generation_key(n) for n in names], _entry_key(names[0], key)
    try:
        found = _read([*generation_keys, entry_key])
    except Exception:  # a cache outage must not take the pages down: read the database instead
        log.warning("shared cache unavailable: reading %s from the database", names[0])
        return compute()
    generations, entry = tuple(found.get(k) for k in generation_keys), found.get(entry_key)
    kept = None not in generations and entry is not None and entry[0] == generations
    if kept and (valid is None or valid(entry[1])):
        return entry[1]
    if None in generations:
        # A generation is made before the value is read, never after: a change another node makes meanwhile then
        # gives a newer one, and the value stored below (with this one) is not served.
        try:
            for k, generation in zip(generation_keys, generations, strict=True):
                if generation is None:  # add: never overwrite another node's change
                    cache.add(k, uuid.uuid4().hex, timeout=_generation_timeout(k))
            made = cache.get_many(generation_keys)
            generations = tuple(made.get(k) for k in generation_keys)
        except Exception:
            log.warning("shared cache unavailable: reading %s from the database", names[0])
            return compute()
    value = compute()
    if None not in generations:
        try:
            cache.set(entry_key, (generations, value), timeout=TIMEOUT_SECONDS)
            _remember({**dict(zip(generation_keys, generations, strict=True)), entry_key: (generations, value)})
        except Exception:
            log.warning("shared cache unavailable: %s not stored", names[0])
    return value


# One record's generation (a plan's, a patient's): there is one per record, so it expires after a day unused (an
# entry then fails to match the next generation, as after a change).
RECORD_GENERATION_SECONDS = 24 * 3600


def record(kind: str, pk) -> str:
    """The generation name of one record's cached views: ``changed(record("plan", plan.pk))`` retires them."""
    return f"record:{kind}:{pk}"


def record_through[T](
    kind: str,
    pk,
    key: str,
    compute: Callable[[], T],
    *,
    also: tuple[str, ...] = (),
    valid: Callable[[T], bool] | None = None,
) -> T:
    """``compute()`` for a page of one record (``kind`` "plan" or "patient"), from the shared cache until that record
    changes (``changed(record(kind, pk))``), the clinic's calendar changes (``CLINIC_SESSIONS``), people's names do
    (``RECORDS``) or any generation of ``also`` does. ``key`` says what else the value depends on (the day, the
    user's permissions); the language is added here. ``valid``: as for ``read_through``."""
    generations = (record(kind, pk), CLINIC_SESSIONS, RECORDS, *also)
    return read_through(generations, f"{key}:{translation.get_language()}", compute, valid=valid)


def _generation_timeout(generation_key: str) -> int | None:
    return RECORD_GENERATION_SECONDS if generation_key.startswith(_generation_key("record:")) else None


def changed(name: str) -> None:
    """Retire every entry of generation ``name``: now, and again once the current transaction commits (an entry
    stored in between, by a node that read the data before the commit, is retired by the second change)."""
    if not _shared():
        return

    memo = _prefetched.get()
    if memo is not None:  # what this block prefetched of the generation is out of date from now
        memo.pop(_generation_key(name), None)

    def bump() -> None:
        try:
            key = _generation_key(name)
            cache.set(key, uuid.uuid4().hex, timeout=_generation_timeout(key))
        except Exception:
            log.error("shared cache unavailable: %s entries expire by themselves within %s s", name, TIMEOUT_SECONDS)

    bump()
    transaction.on_commit(bump)


def changed_everything() -> None:
    """Retire every generation: the database was replaced or migrated (a restore, a data migration, whose writes
    send no signal the receivers hear), so nothing read from it before holds."""
    every = (PERMISSIONS, LAB_PROFILES, CASELOAD, CLINIC_LISTS, RECORDS, BOOKINGS, CLINIC_SESSIONS, ACCESS_TOKENS)
    for name in (*every, CDS_CLIENTS):  # a record's own generation goes with RECORDS, which its entries all hold
        changed(name)


# --- Kept in this process, checked against the shared generation on every read (the CDS Hooks clients) ---

CDS_CLIENTS = "cds-clients"
_held: dict[tuple[str, str], tuple[str, float, object]] = {}
_clock = time.monotonic


def process_through[T](name: str, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept in this process while generation ``name`` has not changed: for a value dearer to rebuild
    than to check (parsed public keys). Each read costs one read of the generation from the shared cache, so a
    change on any node is seen by the next request everywhere. Without a shared cache (or when it cannot be
    reached), ``compute()`` every time: a process alone cannot know that another one changed the data. Held at
    most TIMEOUT_SECONDS, like a shared entry (a change made while the cache was unreachable is not announced)."""
    if not _shared():
        return compute()
    generation_key = _generation_key(name)
    try:
        generation = _read([generation_key]).get(generation_key)
        if generation is None:
            cache.add(generation_key, uuid.uuid4().hex, timeout=_generation_timeout(generation_key))  # never overwrite
            generation = cache.get(generation_key)
            _remember({generation_key: generation})
    except Exception:
        log.warning("shared cache unavailable: reading %s from the database", name)
        return compute()
    held = _held.get((name, key))
    if generation is not None and held is not None and held[0] == generation and _clock() < held[1]:
        return held[2]
    value = compute()  # read after the generation: a change committed meanwhile has bumped it past this one
    if generation is not None:
        _held[(name, key)] = (generation, _clock() + TIMEOUT_SECONDS, value)
    return value

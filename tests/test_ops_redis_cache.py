"""The shared cache's backend (recommender/ops/redis_cache.py): Django's Redis cache with one client per pool."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.harness import redis_server
from recommender.ops.redis_cache import SharedRedisCache


@pytest.fixture(scope="module")
def redis_url():
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs redis-server for the shared cache's tests (apt-get install redis-server).")
        pytest.skip("redis-server is not installed (apt-get install redis-server; CI installs it)")
    with redis_server() as url:
        yield url


def test_one_client_serves_every_operation():
    cache = SharedRedisCache("redis://127.0.0.1:9/0", {})  # nothing is connected until a command is sent
    assert cache._cache.get_client() is cache._cache.get_client(write=True)


def test_values_go_and_come_back_from_many_threads_at_once(redis_url):
    cache = SharedRedisCache(redis_url, {"KEY_PREFIX": "test"})

    def round_trip(number: int) -> object:
        cache.set(f"key-{number}", {"number": number})
        return cache.get_many([f"key-{number}", "absent"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(round_trip, range(64)))
    assert answers == [{f"key-{number}": {"number": number}} for number in range(64)]
    assert cache.add("key-1", "other") is False
    cache.delete("key-1")
    assert cache.get("key-1") is None

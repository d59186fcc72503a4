"""Django's Redis cache backend (the nodes' shared cache, REDIS_URL), with one Redis client per connection pool.

Django's backend builds a new ``redis.Redis`` for every operation (its response callbacks and all), about 90 µs
each on these machines, paid several times by every page. A client holds no state of its own between commands
(each takes a connection from the pool and gives it back), so one client per pool serves every thread."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _OneClientPerPool(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class SharedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _OneClientPerPool

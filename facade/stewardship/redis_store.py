"""The scale-out store: Redis, shared by any number of facade instances.

Every operation is one Redis command or one Lua script, so each is atomic
however many instances call at once. The slot ledger's script reads Redis's
own ``TIME``: instances whose clocks disagree still agree on Redis's, and a
booking is returned as a wait from Redis's "now", which each caller turns
into its own monotonic clock (see ledger.py).

Key layout under the namespace: ``kv:<key>`` for values, and per endpoint
``slots:{<endpoint>}:requests`` (sorted set of booked request starts) and
``slots:{<endpoint>}:record`` (the next free record start). The braces make a
hash tag, so a Redis Cluster keeps an endpoint's two keys on one node, as a
script touching both needs. Ledger keys expire once every start they hold is
an interval in the past, so idle endpoints leave nothing behind. Releasing a
booking that was never sent (``RELEASE_SLOT``) is one script too: it removes
the start and puts the record key back only while it still holds what this
booking wrote, so a booking made by any instance in between is never undone.
"""

from __future__ import annotations

import math

import redis

from .slots import Booking, SlotRule
from .store import Store, check_ttl

#: Seconds before an unanswered Redis command fails rather than holding a worker.
SOCKET_TIMEOUT = 5.0

# Mirrors slots.earliest_start; times are whole microseconds (exact in a Lua double).
BOOK_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local request_us = tonumber(ARGV[1])
local record_us = tonumber(ARGV[2])
local full = ARGV[3] == '1'
local max_wait_us = tonumber(ARGV[4])
local book = ARGV[5] == '1'
local function us(n) return string.format('%.0f', n) end
-- Keep a key a second beyond its last moment of use: expiring early would forget a booking.
local function ttl_ms(last_use) return us(math.ceil((last_use - now) / 1000) + 1000) end

local start = now
local record_before = 0
if full then
  record_before = tonumber(redis.call('GET', KEYS[2]) or '0')
  if record_before > start then start = record_before end
end
local booked = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. us(now - request_us), '+inf')
for _, member in ipairs(booked) do
  local b = tonumber(member)
  if b + request_us > start then
    if b >= start + request_us then break end
    start = b + request_us
  end
end
local last = math.max(start, tonumber(booked[#booked] or '0'))
local wait = start - now
if not book or wait > max_wait_us then return {0, start, wait, record_before} end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', us(now - request_us))
redis.call('ZADD', KEYS[1], us(start), us(start))
redis.call('PEXPIRE', KEYS[1], ttl_ms(last + request_us))
if full then
  local next_record = start + record_us
  redis.call('SET', KEYS[2], us(next_record), 'PX', ttl_ms(next_record))
end
return {1, start, wait, record_before}
"""

# A compare-and-set on what BOOK_SLOT wrote; reads no clock, so it needs no TIME.
RELEASE_SLOT = """
local start = ARGV[1]
local full = ARGV[2] == '1'
local booked_next = tonumber(start) + tonumber(ARGV[3])
local record_before = ARGV[4]
local given = redis.call('ZREM', KEYS[1], start)
if full and tonumber(redis.call('GET', KEYS[2]) or '-1') == booked_next then
  if record_before == '0' then
    redis.call('DEL', KEYS[2])
  else
    -- The earlier value needs no longer a life than the one it replaces: keep that TTL.
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl > 0 then redis.call('SET', KEYS[2], record_before, 'PX', ttl)
    else redis.call('SET', KEYS[2], record_before) end
  end
  given = 1
end
return given
"""

DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore(Store):
    def __init__(self, client: redis.Redis, namespace: str = "facade:") -> None:
        self.client = client
        self.namespace = namespace
        self._book_slot = client.register_script(BOOK_SLOT)  # EVALSHA, EVAL if not cached
        self._release_slot = client.register_script(RELEASE_SLOT)
        self._delete_if_equal = client.register_script(DELETE_IF_EQUAL)

    @classmethod
    def from_url(cls, url: str, namespace: str = "facade:") -> RedisStore:
        # Without timeouts a silent Redis would hang the request; options in the URL win.
        client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT,
                                      socket_connect_timeout=SOCKET_TIMEOUT)
        return cls(client, namespace)

    # -- key/value ---------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        return self.client.get(self._kv(key))

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_ttl(ttl)
        self.client.set(self._kv(key), bytes(value), px=_millis(ttl))

    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        check_ttl(ttl)
        return bool(self.client.set(self._kv(key), bytes(value), px=_millis(ttl), nx=True))

    def delete(self, key: str, expected: bytes | None = None) -> bool:
        if expected is None:
            return self.client.delete(self._kv(key)) == 1
        return self._delete_if_equal(keys=[self._kv(key)], args=[bytes(expected)]) == 1

    def _kv(self, key: str) -> str:
        return f"{self.namespace}kv:{key}"

    # -- slot ledger -------------------------------------------------------------

    def book_slot(self, endpoint: str, rule: SlotRule, full_record: bool,
                  max_wait_us: int) -> Booking:
        return self._run_ledger(endpoint, rule, full_record, max_wait_us, book=True)

    def peek_slot(self, endpoint: str, rule: SlotRule, full_record: bool) -> Booking:
        return self._run_ledger(endpoint, rule, full_record, 0, book=False)

    def release_slot(self, endpoint: str, rule: SlotRule, full_record: bool, start_us: int,
                     record_before_us: int) -> bool:
        given = self._release_slot(
            keys=self._ledger_keys(endpoint),
            args=[int(start_us), int(full_record), rule.record_us, int(record_before_us)])
        return given == 1

    def _run_ledger(self, endpoint: str, rule: SlotRule, full_record: bool, max_wait_us: int,
                    book: bool) -> Booking:
        granted, start, wait, record_before = self._book_slot(
            keys=self._ledger_keys(endpoint),
            args=[rule.request_us, rule.record_us, int(full_record), max_wait_us, int(book)])
        return Booking(bool(granted), int(start), int(wait), int(record_before))

    def _ledger_keys(self, endpoint: str) -> list[str]:
        tag = f"{self.namespace}slots:{{{endpoint}}}"
        return [f"{tag}:requests", f"{tag}:record"]

    def close(self) -> None:
        self.client.close()


def _millis(ttl: float | None) -> int | None:
    """Redis's expiry in whole milliseconds, rounded up: never shorter than asked."""
    return None if ttl is None else max(1, math.ceil(ttl * 1000))

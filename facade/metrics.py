"""Prometheus metrics of upstream stewardship, in one process or across gunicorn workers.

The call sites use the plain functions below (``upstream_call``, ``throttle_wait``,
``throttled``, ``cache_lookup``, ``single_flight_join``, ``breach``, ``endpoint_available``);
``render`` gives the exposition that ``GET /metrics`` (``facade.ops``) serves.

**One process** (tests, ``facade demo``): metrics live in memory and ``render`` reports them.

**Several worker processes** (gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` to a directory in
the environment *before the server starts*. prometheus_client then keeps every metric in
per-process files there, and ``render`` (in whichever worker is scraped) sums the files of all
workers, so a scrape sees the whole server rather than one random worker. prometheus_client
decides the mode when it is first imported, which is why the variable cannot be set later.
The directory must be emptied when the server starts, or counts of the previous run are
added to this one's; and a worker's live gauges must be dropped when it exits. A gunicorn
config does both::

    from pathlib import Path
    import os
    from facade import metrics

    def on_starting(server):
        metrics.prepare_multiprocess_dir(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))

    def child_exit(server, worker):
        metrics.mark_process_dead(worker.pid)

Recording never breaks a request: a failure is logged (once per function) and reported as a
``MetricsFailure`` warning, which pytest's ``filterwarnings = error`` turns into a test failure,
so a broken call site cannot hide in the suite.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ParamSpec

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from .files import private_dir

__all__ = [
    "CACHE_RESULTS",
    "SINGLE_FLIGHT_SCOPES",
    "THROTTLE_KINDS",
    "UPSTREAM_OUTCOMES",
    "MetricsFailure",
    "breach",
    "cache_lookup",
    "endpoint_available",
    "known_endpoints",
    "mark_process_dead",
    "multiprocess_dir",
    "prepare_multiprocess_dir",
    "render",
    "single_flight_join",
    "throttle_wait",
    "throttled",
    "upstream_call",
]

_log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The classic text format (what prometheus_client serves a scraper that asks for nothing
# special); spelled out because the constant's name differs between client versions.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Label values with a closed vocabulary are checked, so a typo at a call site shows up in the
# tests instead of as a new time series nobody alerts on.
THROTTLE_KINDS = frozenset({"request", "record"})
CACHE_RESULTS = frozenset({"hit", "miss", "stale", "bypass"})
SINGLE_FLIGHT_SCOPES = frozenset({"thread", "shared"})
# Not enforced (call sites may need a new outcome); the ones dashboards expect.
UPSTREAM_OUTCOMES = frozenset({"ok", "error", "timeout", "unreachable"})

# Upstream calls take from milliseconds (a cached device id, a small search) to the read
# timeout (a large record, a throttled request that never gets a reply).
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Waits for a slot: mostly none, up to the request interval (1 s), at most the configured
# maximum wait (10 s by default) before a 429; 30 s covers a whole record interval.
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)


class MetricsFailure(RuntimeWarning):
    """Recording a metric failed; the request went on without it."""


def _multiprocess_dir_from_environment() -> Path | None:
    """The multiprocess directory, checked against the mode prometheus_client already chose."""
    configured = os.environ.get(MULTIPROC_ENV) or None
    client_is_multiprocess = getattr(values.ValueClass, "_multiprocess", configured is not None)
    if client_is_multiprocess != (configured is not None):
        raise RuntimeError(
            f"{MULTIPROC_ENV} was {'set' if configured is None else 'unset'} when "
            f"prometheus_client was imported and is {'unset' if configured is None else 'set'} "
            f"now; set it in the environment before the process starts")
    if configured is None:
        return None
    path = Path(configured)
    # prometheus_client opens its files there as soon as a metric exists (just below).
    private_dir(path)
    return path


_MULTIPROC_DIR = _multiprocess_dir_from_environment()


def multiprocess_dir() -> Path | None:
    """Where worker processes keep their metrics, or None in single-process mode."""
    return _MULTIPROC_DIR


def _own_registry() -> CollectorRegistry:
    """The registry of this module's metrics (not the global one, so nothing else leaks in)."""
    registry = CollectorRegistry(auto_describe=True)
    if _MULTIPROC_DIR is None:
        # Per-process figures mean little summed over workers; in one process they help.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


_REGISTRY = _own_registry()

_UPSTREAM_CALLS = Counter(
    "facade_upstream_calls", "Calls to SystmOne by function, endpoint and outcome.",
    ["function", "endpoint", "outcome"], registry=_REGISTRY)
_UPSTREAM_SECONDS = Histogram(
    "facade_upstream_call_duration_seconds", "Duration of calls to SystmOne by function.",
    ["function"], buckets=_CALL_BUCKETS, registry=_REGISTRY)
_THROTTLE_WAIT = Histogram(
    "facade_throttle_wait_seconds",
    "Time a request waited for its throttle slot (request: any call; record: a full record).",
    ["kind"], buckets=_WAIT_BUCKETS, registry=_REGISTRY)
_THROTTLED = Counter(
    "facade_throttled_responses", "Requests answered 429 because the wait would be too long.",
    registry=_REGISTRY)
_CACHE_LOOKUPS = Counter(
    "facade_cache_lookups", "Cache lookups by data class and result (hit, miss, stale, bypass).",
    ["data_class", "result"], registry=_REGISTRY)
_SINGLE_FLIGHT_JOINS = Counter(
    "facade_single_flight_joins",
    "Requests that shared another's upstream call (thread: same process; shared: another "
    "worker or instance).", ["scope"], registry=_REGISTRY)
_BREACHES = Counter(
    "facade_breaches_detected",
    "Throttle breaches detected (SystmOne's limits exceeded); must stay 0.",
    ["endpoint"], registry=_REGISTRY)
_MISSED_SLOTS = Counter(
    "facade_missed_slots",
    "Slots given up because the caller woke later than the send margin allows "
    "(booked again rather than risk a breach).",
    ["endpoint"], registry=_REGISTRY)
_RECORD_ITEMS = Counter(
    "facade_record_items",
    "Items of the records mapped, by kind of item and the FHIR type serving them "
    "(served_as=none: not served).", ["kind", "served_as"], registry=_REGISTRY)
# Workers may disagree for a moment (one saw the timeout, another has not called since); the
# most recent observation of a live worker is the freshest truth, and a dead worker's last
# word is dropped by mark_process_dead.
_UPSTREAM_AVAILABLE = Gauge(
    "facade_upstream_available", "1 if the SystmOne endpoint is in service, 0 if taken out.",
    ["endpoint"], multiprocess_mode="livemostrecent", registry=_REGISTRY)

# Series for every vocabulary value exist from the start, so rates and ratios are defined
# before the first event.
for _kind in sorted(THROTTLE_KINDS):
    _THROTTLE_WAIT.labels(kind=_kind)
for _scope in sorted(SINGLE_FLIGHT_SCOPES):
    _SINGLE_FLIGHT_JOINS.labels(scope=_scope)


_P = ParamSpec("_P")
_failures_logged: set[str] = set()


def _never_breaks_a_request(record: Callable[_P, None]) -> Callable[_P, None]:
    """Run ``record``; on failure log (once per function) and warn instead of raising."""

    @functools.wraps(record)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            name = record.__name__
            if name not in _failures_logged:
                _failures_logged.add(name)
                _log.exception("recording metric %s failed (logged once)", name)
            # A constant message lets the warnings registry show it once per call site in
            # production; under ``-W error`` (the test suite) it raises, chained to the cause.
            warnings.warn(f"metrics.{name} failed", MetricsFailure, stacklevel=2)

    return guarded


def _checked(value: str, vocabulary: frozenset[str], what: str) -> str:
    if value not in vocabulary:
        raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(vocabulary)}")
    return value


@_never_breaks_a_request
def upstream_call(function: str, endpoint: str, outcome: str, seconds: float) -> None:
    """One call to SystmOne: ``function`` (e.g. GetPatientRecord) at ``endpoint`` ended with
    ``outcome`` (ok, error, timeout, unreachable) after ``seconds``."""
    duration = max(0.0, seconds)  # first: a bad argument must not leave half a record
    _UPSTREAM_CALLS.labels(function=function, endpoint=endpoint, outcome=outcome).inc()
    _UPSTREAM_SECONDS.labels(function=function).observe(duration)


@_never_breaks_a_request
def throttle_wait(kind: str, seconds: float) -> None:
    """A request waited ``seconds`` for its ``kind`` slot (request or record); 0 if none."""
    _THROTTLE_WAIT.labels(kind=_checked(kind, THROTTLE_KINDS, "throttle kind")).observe(
        max(0.0, seconds))


@_never_breaks_a_request
def throttled() -> None:
    """A request was answered 429 rather than wait past the maximum."""
    _THROTTLED.inc()


@_never_breaks_a_request
def cache_lookup(data_class: str, result: str) -> None:
    """A cache lookup for ``data_class`` (e.g. demographics, clinical) gave ``result``."""
    child = _LOOKUP_COUNTERS.get((data_class, result))
    if child is None:  # labels() is a locked lookup: once per pair, not per request
        child = _LOOKUP_COUNTERS[data_class, result] = _CACHE_LOOKUPS.labels(
            data_class=data_class, result=_checked(result, CACHE_RESULTS, "cache result"))
    child.inc()


_LOOKUP_COUNTERS: dict[tuple[str, str], Counter] = {}


@_never_breaks_a_request
def single_flight_join(scope: str) -> None:
    """A request waited for an identical call already in flight (thread or shared)."""
    _SINGLE_FLIGHT_JOINS.labels(
        scope=_checked(scope, SINGLE_FLIGHT_SCOPES, "single-flight scope")).inc()


@_never_breaks_a_request
def breach(endpoint: str) -> None:
    """SystmOne's limits were exceeded at ``endpoint`` (what must never happen)."""
    _BREACHES.labels(endpoint=endpoint).inc()


@_never_breaks_a_request
def missed_slot(endpoint: str) -> None:
    """A caller woke too late for its slot at ``endpoint`` and booked again."""
    _MISSED_SLOTS.labels(endpoint=endpoint).inc()


@_never_breaks_a_request
def record_items(report) -> None:
    """A mapped record's fidelity report (mapping.fidelity.FidelityReport): its items by
    kind, and the types that served them."""
    for (kind, resource_type), count in report.served_as.items():
        _RECORD_ITEMS.labels(kind=kind, served_as=resource_type).inc(count)
    for kind, count in report.unserved.items():
        if count:
            _RECORD_ITEMS.labels(kind=kind, served_as="none").inc(count)


@_never_breaks_a_request
def endpoint_available(endpoint: str, available: bool) -> None:
    """``endpoint`` was put in service (True) or taken out (False)."""
    _UPSTREAM_AVAILABLE.labels(endpoint=endpoint).set(1.0 if available else 0.0)


def known_endpoints(endpoints: Iterable[str]) -> None:
    """Export the breach counter at 0 for each endpoint before anything happens.

    Operators alert on the counter leaving 0, and "no series" looks the same as "nothing
    scraped"; call this at start-up in every process with the configured endpoints. Not
    guarded: a failure here is a start-up error and should stop the start.
    """
    for endpoint in endpoints:
        _BREACHES.labels(endpoint=endpoint)


def render() -> tuple[bytes, str]:
    """The exposition body and its content type: this process's metrics, or in
    multiprocess mode the sum over every worker's files."""
    if _MULTIPROC_DIR is None:
        return generate_latest(_REGISTRY), CONTENT_TYPE
    # A fresh registry per scrape: the collector reads the files when asked.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(_MULTIPROC_DIR))
    return generate_latest(registry), CONTENT_TYPE


# prometheus_client's files are named <type>[_<gauge mode>]_<pid>.db.
_METRIC_FILE_PREFIXES = ("counter_", "gauge_", "histogram_", "summary_")


def prepare_multiprocess_dir(path: Path) -> None:
    """Create ``path`` or remove the metric files a previous run left there.

    Call it once when the server starts, before workers record anything. Only
    prometheus_client's ``*.db`` files go, so a mistyped path costs no one's data.
    """
    private_dir(path)
    for entry in path.glob("*.db"):
        if entry.name.startswith(_METRIC_FILE_PREFIXES) and entry.is_file():
            entry.unlink()


def mark_process_dead(pid: int, path: Path | None = None) -> None:
    """Drop the live gauges of worker ``pid`` (gunicorn's ``child_exit`` hook).

    ``path`` defaults to the multiprocess directory; without one this does nothing.
    """
    target = path if path is not None else _MULTIPROC_DIR
    if target is not None:
        multiprocess.mark_process_dead(pid, str(target))

"""facade.metrics: each recording function, the exposition, and multiprocess mode.

The tests in this process see single-process mode. Multiprocess mode is chosen when
prometheus_client is imported, so it is tested in subprocesses of its own, which also keeps
PROMETHEUS_MULTIPROC_DIR from leaking into the rest of the suite.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facade import metrics

REPO = Path(__file__).resolve().parents[1]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape() -> Samples:
    body, _ = metrics.render()
    return parse(body.decode())


def current(name: str, **labels: str) -> float:
    """The value now; 0 for a series that does not exist yet (a labelled child not created)."""
    return sample(scrape(), name, **labels) or 0.0


@pytest.fixture(autouse=True)
def _single_process() -> None:
    if metrics.multiprocess_dir() is not None:
        pytest.skip("these tests expect single-process mode (PROMETHEUS_MULTIPROC_DIR is set)")


# -- each function -------------------------------------------------------------------------


def test_upstream_call_counts_by_function_endpoint_and_outcome_and_times_by_function():
    labels = {"function": "GetPatientRecord", "endpoint": "gw-1:40700"}
    ok_before = current("facade_upstream_calls_total", **labels, outcome="ok")
    timeouts_before = current("facade_upstream_calls_total", **labels, outcome="timeout")
    count_before = current("facade_upstream_call_duration_seconds_count",
                           function="GetPatientRecord")
    sum_before = current("facade_upstream_call_duration_seconds_sum",
                         function="GetPatientRecord")

    metrics.upstream_call("GetPatientRecord", "gw-1:40700", "ok", 0.25)
    metrics.upstream_call("GetPatientRecord", "gw-1:40700", "ok", 0.5)
    metrics.upstream_call("GetPatientRecord", "gw-1:40700", "timeout", 30.0)

    after = scrape()
    assert sample(after, "facade_upstream_calls_total", **labels, outcome="ok") == ok_before + 2
    assert sample(after, "facade_upstream_calls_total",
                  **labels, outcome="timeout") == timeouts_before + 1
    assert sample(after, "facade_upstream_call_duration_seconds_count",
                  function="GetPatientRecord") == count_before + 3
    assert sample(after, "facade_upstream_call_duration_seconds_sum",
                  function="GetPatientRecord") == pytest.approx(sum_before + 30.75)


def test_upstream_call_duration_is_never_negative():
    before = current("facade_upstream_call_duration_seconds_sum", function="IsPatientRetrieved")
    metrics.upstream_call("IsPatientRetrieved", "gw-1:40700", "ok", -0.01)  # clock quirks
    assert current("facade_upstream_call_duration_seconds_sum",
                   function="IsPatientRetrieved") == before


def test_throttle_wait_is_a_histogram_by_kind_present_before_any_wait():
    first = scrape()
    for kind in ("request", "record"):
        assert sample(first, "facade_throttle_wait_seconds_count", kind=kind) is not None

    no_wait_before = current("facade_throttle_wait_seconds_bucket", kind="request", le="0.001")
    count_before = current("facade_throttle_wait_seconds_count", kind="record")
    metrics.throttle_wait("request", 0.0)
    metrics.throttle_wait("record", 7.5)

    after = scrape()
    assert sample(after, "facade_throttle_wait_seconds_bucket",
                  kind="request", le="0.001") == no_wait_before + 1
    assert sample(after, "facade_throttle_wait_seconds_count", kind="record") == count_before + 1


def test_throttled_counts_429s_and_is_exported_at_start():
    before = sample(scrape(), "facade_throttled_responses_total")
    assert before is not None
    metrics.throttled()
    metrics.throttled()
    assert current("facade_throttled_responses_total") == before + 2


def test_cache_lookup_counts_by_data_class_and_result():
    results = ("hit", "miss", "stale", "bypass")
    before = {r: current("facade_cache_lookups_total", data_class="clinical", result=r)
              for r in results}
    for result in results:
        metrics.cache_lookup("clinical", result)
    metrics.cache_lookup("clinical", "hit")
    after = scrape()
    for result in results:
        expected = before[result] + (2 if result == "hit" else 1)
        assert sample(after, "facade_cache_lookups_total",
                      data_class="clinical", result=result) == expected


def test_single_flight_joins_count_by_scope_from_zero():
    first = scrape()
    assert sample(first, "facade_single_flight_joins_total", scope="thread") is not None
    assert sample(first, "facade_single_flight_joins_total", scope="shared") is not None
    before = sample(first, "facade_single_flight_joins_total", scope="shared")
    metrics.single_flight_join("shared")
    assert current("facade_single_flight_joins_total", scope="shared") == before + 1


def test_breaches_are_exported_at_zero_for_known_endpoints_before_any_breach():
    metrics.known_endpoints(["known-a:40700", "known-b:40700"])
    first = scrape()
    assert sample(first, "facade_breaches_detected_total", endpoint="known-a:40700") == 0
    assert sample(first, "facade_breaches_detected_total", endpoint="known-b:40700") == 0

    metrics.breach("known-a:40700")
    metrics.known_endpoints(["known-a:40700"])  # again (another app in the process): no reset
    after = scrape()
    assert sample(after, "facade_breaches_detected_total", endpoint="known-a:40700") == 1
    assert sample(after, "facade_breaches_detected_total", endpoint="known-b:40700") == 0


def test_endpoint_available_is_a_one_or_zero_gauge():
    metrics.endpoint_available("gauge-gw:40700", True)
    assert current("facade_upstream_available", endpoint="gauge-gw:40700") == 1
    metrics.endpoint_available("gauge-gw:40700", False)
    assert current("facade_upstream_available", endpoint="gauge-gw:40700") == 0


def test_render_gives_the_text_format_with_every_facade_metric():
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"facade_upstream_calls", "facade_upstream_call_duration_seconds",
            "facade_throttle_wait_seconds", "facade_throttled_responses",
            "facade_cache_lookups", "facade_single_flight_joins",
            "facade_breaches_detected"} <= names
    # The gauge appears once an endpoint has been reported on (never a made-up 0).


# -- failures never break a request, and never pass silently -------------------------------


@pytest.mark.parametrize("call", [
    lambda: metrics.throttle_wait("slot", 1.0),
    lambda: metrics.cache_lookup("clinical", "hot"),
    lambda: metrics.single_flight_join("cluster"),
    lambda: metrics.upstream_call("GetPatientRecord", "gw:1", "ok", "slow"),  # type: ignore[arg-type]
])
def test_a_failing_call_site_is_reported_as_a_warning_the_suite_turns_into_an_error(call):
    with warnings.catch_warnings(), pytest.raises(metrics.MetricsFailure) as raised:
        warnings.simplefilter("error", metrics.MetricsFailure)  # as filterwarnings = error
        call()
    assert isinstance(raised.value.__context__, (ValueError, TypeError))  # the real cause


def test_a_failure_does_not_raise_in_production_and_is_logged_once(caplog):
    caplog.set_level(logging.ERROR, logger="facade.metrics")
    metrics._failures_logged.discard("cache_lookup")
    before = scrape()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # production shows the warning; it must not raise
        assert metrics.cache_lookup("clinical", "lukewarm") is None
        assert metrics.cache_lookup("clinical", "lukewarm") is None
    logged = [r for r in caplog.records if "cache_lookup" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert sample(scrape(), "facade_cache_lookups_total",
                  data_class="clinical", result="lukewarm") is None
    assert len(before) > 0


# -- multiprocess housekeeping ---------------------------------------------------------------


def test_prepare_multiprocess_dir_creates_the_directory(tmp_path):
    target = tmp_path / "a" / "prom"
    metrics.prepare_multiprocess_dir(target)
    assert target.is_dir()


def test_prepare_multiprocess_dir_removes_metric_files_only(tmp_path):
    stale = ["counter_123.db", "gauge_livemostrecent_123.db", "histogram_9.db", "summary_9.db"]
    kept = ["notes.txt", "other.db"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    metrics.prepare_multiprocess_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_mark_process_dead_without_a_directory_does_nothing():
    metrics.mark_process_dead(os.getpid())  # single-process mode: nothing to clean


# -- multiprocess mode, in real subprocesses --------------------------------------------------

WORKER = """
import os, sys
from facade import metrics

available, breached = sys.argv[1] == "up", sys.argv[2] == "breach"
metrics.known_endpoints(["gw-a:40700", "gw-b:40700"])
metrics.upstream_call("GetPatientRecord", "gw-a:40700", "ok", 0.5)
metrics.upstream_call("PatientSearch", "gw-b:40700", "timeout", 5.0)
metrics.throttle_wait("record", 1.5)
metrics.throttled()
metrics.cache_lookup("clinical", "hit")
metrics.single_flight_join("shared")
metrics.endpoint_available("gw-a:40700", available)
if breached:
    metrics.breach("gw-a:40700")
print(os.getpid())
"""

RENDERER = """
import sys
from facade import metrics

body, content_type = metrics.render()
sys.stdout.write(content_type + "\\n" + body.decode())
"""


def run_python(script: str, *args: str, multiproc_dir: Path | None) -> str:
    env = {k: v for k, v in os.environ.items()
           if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc_dir)
    done = subprocess.run([sys.executable, "-W", "error", "-c", script, *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def render_in_another_process(multiproc_dir: Path) -> Samples:
    content_type, _, body = run_python(RENDERER, multiproc_dir=multiproc_dir).partition("\n")
    assert content_type.startswith("text/plain")
    return parse(body)


def test_workers_metrics_are_summed_and_breaches_show_zero(tmp_path):
    prom = tmp_path / "prom"
    metrics.prepare_multiprocess_dir(prom)
    # Run one after the other so "the most recent" availability is well defined.
    first = int(run_python(WORKER, "up", "breach", multiproc_dir=prom))
    second = int(run_python(WORKER, "down", "no-breach", multiproc_dir=prom))
    assert first != second

    seen = render_in_another_process(prom)
    assert sample(seen, "facade_upstream_calls_total", function="GetPatientRecord",
                  endpoint="gw-a:40700", outcome="ok") == 2
    assert sample(seen, "facade_upstream_calls_total", function="PatientSearch",
                  endpoint="gw-b:40700", outcome="timeout") == 2
    assert sample(seen, "facade_upstream_call_duration_seconds_count",
                  function="PatientSearch") == 2
    assert sample(seen, "facade_upstream_call_duration_seconds_sum",
                  function="PatientSearch") == pytest.approx(10.0)
    assert sample(seen, "facade_throttle_wait_seconds_count", kind="record") == 2
    assert sample(seen, "facade_throttle_wait_seconds_count", kind="request") == 0
    assert sample(seen, "facade_throttled_responses_total") == 2
    assert sample(seen, "facade_cache_lookups_total", data_class="clinical", result="hit") == 2
    assert sample(seen, "facade_single_flight_joins_total", scope="shared") == 2
    assert sample(seen, "facade_single_flight_joins_total", scope="thread") == 0
    assert sample(seen, "facade_breaches_detected_total", endpoint="gw-a:40700") == 1
    assert sample(seen, "facade_breaches_detected_total", endpoint="gw-b:40700") == 0
    # The latest word of a live worker: the second said "down".
    assert sample(seen, "facade_upstream_available", endpoint="gw-a:40700") == 0

    # gunicorn's child_exit: the dead worker's gauge goes, its counts stay.
    metrics.mark_process_dead(second, path=prom)
    seen = render_in_another_process(prom)
    assert sample(seen, "facade_upstream_available", endpoint="gw-a:40700") == 1
    assert sample(seen, "facade_throttled_responses_total") == 2


def test_a_restart_that_prepares_the_directory_starts_from_zero(tmp_path):
    prom = tmp_path / "prom"
    metrics.prepare_multiprocess_dir(prom)
    run_python(WORKER, "up", "breach", multiproc_dir=prom)
    metrics.prepare_multiprocess_dir(prom)  # the server starts again
    seen = render_in_another_process(prom)
    assert sample(seen, "facade_throttled_responses_total") == 0
    assert sample(seen, "facade_breaches_detected_total", endpoint="gw-a:40700") is None


def test_the_directory_is_created_when_missing(tmp_path):
    prom = tmp_path / "not" / "there"
    run_python(WORKER, "up", "no-breach", multiproc_dir=prom)
    assert any(prom.glob("counter_*.db"))


def test_setting_the_variable_after_prometheus_client_was_imported_is_refused(tmp_path):
    script = """
import os, sys
import prometheus_client
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
try:
    import facade.metrics
except RuntimeError as refused:
    print(refused)
"""
    said = run_python(script, str(tmp_path), multiproc_dir=None)
    assert "before the process starts" in said
    assert metrics.multiprocess_dir() is None  # and nothing leaked into this process


def test_a_bad_duration_records_nothing_rather_than_half_a_call():
    labels = {"function": "PatientSearch", "endpoint": "half:40700", "outcome": "ok"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics.upstream_call("PatientSearch", "half:40700", "ok", None)  # type: ignore[arg-type]
    assert sample(scrape(), "facade_upstream_calls_total", **labels) is None

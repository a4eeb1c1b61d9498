"""facade assure against the built-in simulator: every scenario passes, and the pack says so.

Expected values come from the brief and TPP's specification (27 scenarios, the
two throttle limits, the API key never in the pack), not from the harness's tables.
"""

from __future__ import annotations

import itertools
import json

from facade.upstream.client import DEMO_API_KEY

from .conftest import RECORD_INTERVAL, REQUEST_INTERVAL, assure


def test_the_run_against_the_simulator_passes_every_scenario(pack):
    _folder, report, result = pack
    assert result.exit_code == 0, result.output
    assert report is not None, result.output
    failing = [(s["id"], s["reason"]) for s in report["scenarios"] if not s["passed"]]
    assert not failing, failing
    assert report["passed"] is True
    assert result.output.strip().endswith("report.html")
    assert "27 scenarios: 27 passed, 0 failed, 0 skipped" in result.output


def test_each_scenario_has_an_id_title_verdict_and_reason(pack):
    _, report, _ = pack
    ids = [s["id"] for s in report["scenarios"]]
    assert len(ids) == len(set(ids)) == 27
    for scenario in report["scenarios"]:
        assert scenario["title"] and scenario["reason"]
        assert isinstance(scenario["passed"], bool)
    for needed in ("device-approval", "get-functions", "patient-search-one-criterion",
                   "record-full", "record-demographics", "record-entered-today",
                   "record-unknown-patient", "is-patient-retrieved", "get-document",
                   "throttle-request-spacing", "throttle-record-spacing",
                   "throttle-retry-after", "fault-no-reply", "fault-temporary-error",
                   "fault-permanent-error", "access-audit", "logs-phi", "configuration"):
        assert needed in ids


def test_the_messages_keep_to_both_limits(pack):
    """Read from the recorded messages, not the verdicts: SystmOne's rule, compressed."""
    _, report, _ = pack
    main = [m for m in report["run"]["messages"] if m["phase"] in ("scripted", "throttle")]
    sent = sorted(m["sent"] for m in main)
    assert min(b - a for a, b in itertools.pairwise(sent)) >= float(REQUEST_INTERVAL)
    full = sorted(m["sent"] for m in main if m["full_record"])
    assert len(full) >= 3  # the scripted full fetch and two under load
    assert min(b - a for a, b in itertools.pairwise(full)) >= float(RECORD_INTERVAL)
    under_load = report["run"]["fhir_requests"]
    assert any(r["status"] == 429 and r["retry_after"].isdigit() for r in under_load)
    assert all(r["status"] for r in under_load), "a FHIR request went unanswered"


def test_the_json_keeps_run_specific_values_apart_and_sorted(pack):
    folder, report, _ = pack
    text = (folder / "report.json").read_text()
    assert text == json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    verdicts = json.dumps({k: v for k, v in report.items() if k != "run"})
    for message in report["run"]["messages"][:5]:
        assert message["request_uid"] not in verdicts
    assert report["run"]["started"] not in verdicts


def test_every_message_is_kept_with_the_api_key_redacted(pack):
    folder, report, _ = pack
    files = [m["request_file"] for m in report["run"]["messages"]]
    assert len(files) == len(report["run"]["messages"]) and all(files)
    for name in files:
        text = (folder / name).read_text()
        assert "<APIKey>[redacted]</APIKey>" in text and DEMO_API_KEY not in text
    assert DEMO_API_KEY not in (folder / "report.json").read_text()
    assert DEMO_API_KEY not in (folder / "report.html").read_text()


def test_the_requests_were_checked_against_tpp_schemas_where_they_exist(pack, tpp_reference):
    _, report, _ = pack
    for message in report["run"]["messages"]:
        assert f"TPP {message['function']}-v1.0.xsd" in message["request_schemas"], message
        assert message["request_problem"] == ""
    assert set(report["schemas"]["tpp_request_xsds"]) >= {"GetPatientRecord-v1.0.xsd",
                                                          "PatientSearch-v1.0.xsd"}


def test_the_pack_is_private_to_its_owner(pack):
    folder, _, _ = pack
    assert folder.stat().st_mode & 0o077 == 0


def test_the_same_command_gives_the_same_scenarios_and_verdicts(pack, tmp_path):
    """Reproducible: a second run of the same command against the same practice differs
    only under ``run`` (times, ids, measurements)."""
    _, report, _ = pack
    result = assure(tmp_path)
    again = json.loads((tmp_path / "report" / "report.json").read_text())
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in again.items() if k != "run"} == \
        {k: v for k, v in report.items() if k != "run"}

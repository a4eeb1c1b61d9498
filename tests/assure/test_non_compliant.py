"""A client that ignores SystmOne's throttle is caught, and the report says why.

The test double sits where a careless layer of a client would: above the
recording transport, sending every request but a GetPatientRecord a second time
at once (a naive immediate retry), its send deadline cleared.
"""

from __future__ import annotations

import json

from facade.assure.html import render
from facade.assure.report import write
from facade.assure.run import Options, assure
from facade.config import Settings
from facade.upstream.transport import send_deadline
from simulator.practice import generated_practice
from tests.conftest import AS_OF


class Hasty:
    """Sends each request again the moment its reply is in: no slot, no wait."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def exchange(self, request: bytes) -> bytes:
        reply = self.inner.exchange(request)
        if b"<Function>GetPatientRecord</Function>" not in request:
            token = send_deadline.set(None)  # the throttle is ignored, not missed
            try:
                self.inner.exchange(request)
            finally:
                send_deadline.reset(token)
        return reply

    def close(self) -> None:
        self.inner.close()


def test_a_client_sending_too_fast_fails_the_run_with_the_reason(tmp_path):
    options = Options(state_dir=tmp_path / "state", request_interval=0.05,
                      record_interval=0.5, practice=generated_practice(40, 7, as_of=AS_OF),
                      practice_label="the session's practice", wrap_transport=Hasty)
    evidence = assure(options, Settings.load({"state_dir": tmp_path / "state"}))
    verdicts = {verdict.id: verdict for verdict in evidence.verdicts}
    spacing = verdicts["throttle-request-spacing"]
    assert not spacing.passed
    assert "closer than 0.05 s to the one before" in spacing.reason
    assert not evidence.passed

    write(evidence, tmp_path / "report", render(evidence))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["passed"] is False
    [entry] = [s for s in report["scenarios"] if s["id"] == "throttle-request-spacing"]
    assert entry["passed"] is False and "closer than" in entry["reason"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'class="verdict failed"' in html and 'class="gap breach"' in html

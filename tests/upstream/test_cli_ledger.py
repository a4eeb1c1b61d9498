"""``facade upstream`` books SystmOne's slots in the facade's shared ledger before it sends.

A real simulator counts what arrives (its message audit); the ledger is the state dir's
embedded store, booked here as a running facade would book it.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from facade.cli import main
from facade.protocol.envelope import OutputScheme
from facade.protocol.identity import Identity
from facade.stewardship import SlotLedger, open_store
from facade.upstream.cli import BookedUpstream, make_client
from facade.upstream.client import DEMO_API_KEY
from facade.upstream.transport import Timeouts

from ..fhir.conftest import patient_with_numerics


@pytest.fixture
def setup(simulator, practice, tmp_path):
    host, port = simulator.address
    endpoint = f"{host}:{port}"
    nhs = patient_with_numerics(practice).identity.value
    state = tmp_path / "facade"

    def run(*args: str, **environment: str):
        env = {"FACADE_REQUEST_INTERVAL": "0.05", "FACADE_RECORD_INTERVAL": "30",
               "FACADE_SEND_MARGIN": "0.01", **environment}
        return CliRunner().invoke(main, ["upstream", "--upstream", endpoint, "--state-dir",
                                         str(state), *args], env=env)

    def facade_takes_the_record_slot(record_interval: float = 30.0) -> None:
        """What a running facade's full GetPatientRecord books (it need not be sent here:
        the ledger is what the command must respect)."""
        with open_store(state) as store:
            SlotLedger(store, 0.05, record_interval, 0.01).reserve(endpoint, full_record=True)

    return simulator, endpoint, nhs, run, facade_takes_the_record_slot, state


def records(simulator) -> list:
    time.sleep(0.2)  # the simulator writes its audit after each reply
    return simulator.store.messages(function="GetPatientRecord")


def test_a_full_record_refuses_while_the_facade_holds_the_30_second_window(setup):
    simulator, endpoint, nhs, run, facade_takes_the_record_slot, _ = setup
    facade_takes_the_record_slot()
    refused = run("--max-wait", "2", "record", "--nhs-number", nhs)
    assert refused.exit_code == 1
    assert records(simulator) == []  # nothing reached SystmOne
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"Error: not sent: the next full-record slot on {endpoint} is ")
    assert "beyond --max-wait 2" in line


def test_a_full_record_waits_for_the_window_and_says_so(setup):
    simulator, endpoint, nhs, run, facade_takes_the_record_slot, _ = setup
    facade_takes_the_record_slot(record_interval=2.0)
    started = time.monotonic()
    done = run("record", "--nhs-number", nhs, FACADE_RECORD_INTERVAL="2")
    assert done.exit_code == 0, done.output
    assert time.monotonic() - started >= 1.9  # sent once the window had passed
    assert f"for the full-record slot on {endpoint}" in done.stderr
    assert "<Response" in done.stdout
    assert len(records(simulator)) == 1


def test_an_exempt_demographics_call_is_sent_in_a_request_slot_at_once(setup):
    simulator, _, nhs, run, facade_takes_the_record_slot, _ = setup
    facade_takes_the_record_slot()
    done = run("--max-wait", "2", "record", "--nhs-number", nhs, "--filter", "Demographics")
    assert done.exit_code == 0, done.output
    assert done.stderr == ""
    assert len(records(simulator)) == 1


def test_the_command_books_what_the_facade_then_respects(setup):
    """The other way round: the command's full record takes the window from the facade."""
    _, endpoint, nhs, run, _, state = setup
    assert run("record", "--nhs-number", nhs).exit_code == 0
    with open_store(state) as store:
        wait = store.peek_slot(endpoint, SlotLedger(store, 0.05, 30.0).rule, True).wait_us
    assert wait > 25_000_000


def test_a_command_that_wakes_too_late_releases_its_slot_and_sends_in_that_window(setup):
    """Issue 14: the process wakes 50 ms after its full-record slot (beyond half the 10 ms
    margin), so the request is not sent; the slot is released, so booking again gets
    "now" rather than the next record window 2 s later."""
    simulator, endpoint, nhs, _, facade_takes_the_record_slot, state = setup
    facade_takes_the_record_slot(record_interval=2.0)
    overslept = []

    def wake_late_once(seconds: float) -> None:
        time.sleep(seconds + (0.05 if not overslept else 0))
        overslept.append(seconds)
    store = open_store(state)
    ledger = SlotLedger(store, 0.05, 2.0, 0.01, sleep=wake_late_once)
    client = make_client(endpoint, DEMO_API_KEY, state, Timeouts(5, 10), OutputScheme())
    upstream = BookedUpstream(client, store, ledger, max_wait=10)
    started = time.monotonic()
    try:
        upstream.call(lambda c: c.get_patient_record(Identity("NHSNumber", nhs), None, False),
                      full_record=True)
        took = time.monotonic() - started
        after = store.peek_slot(endpoint, ledger.rule, True).wait_us / 1e6
    finally:
        upstream.close()
    assert len(overslept) == 1  # the rebooked slot was now: nothing more to sleep for
    assert 1.9 <= took < 3.5  # in the window it missed, not a whole record interval later
    assert after > 1.5  # the request sent holds the window from now on
    assert len(records(simulator)) == 1

"""``facade assure``: the interface test harness TPP asks for before Live, and its
evidence pack.

The run (run.py) talks to a SystmOne endpoint, the built-in simulator unless one is
given, in three phases — the scripted interface test (scripted.py), more FHIR work
than SystmOne allows through the facade (throttle.py), SystmOne misbehaving behind
a fault-injecting relay (faults.py) — recording every message at the transport
(recorder.py). It then judges what was recorded against TPP's rules (rules.py) and
schemas (conformance.py), and checks the access audit, the logs and the
configuration (checks.py). The verdicts (scenario.py) and the evidence go into
report.json and a self-contained report.html (report.py, html.py, timeline.py).
"""

"""Upstream stewardship on a loaded machine: bench/stewardship.py with busy processes.

The workload that once fetched a full record twice: 400 FHIR requests from 16
threads over four patients, SystmOne's intervals compressed to 0.2 s / 2 s,
while three processes spin on the CPU (on a two-core machine, the facade's
workers get a fraction of a core each, so every gap between a check and an
action widens). Single-flight and the shared cache must still make exactly one
non-exempt GetPatientRecord per patient: the run repeats ``--runs`` times and
reports, per run, how many full records were fetched and how many were the
same patient's again.

    .venv/bin/python bench/stewardship_stress.py [--runs 4] [--busy 3]
        [--config embedded|redis|both] [other bench/stewardship.py options]

Writes bench/results/stewardship-stress.json (the last run's detail and every run's
summary); exits 1 when any run fetched a record twice, breached the throttle, went over
the scarce-slot target or answered an error (the backlog phase is not run).
"""

from __future__ import annotations

import argparse
import json
import sys

import stewardship
from common import RESULTS, write_result

WORKLOAD = ["--requests", "400", "--patients", "4", "--backlog", "0", "--backlog-reads", "0",
            "--request-interval", "0.2", "--record-interval", "2.0"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--busy", type=int, default=3)
    known, rest = parser.parse_known_args()
    summaries = []
    for run in range(1, known.runs + 1):
        print(f"\n### run {run} of {known.runs} ({known.busy} busy processes)", flush=True)
        stewardship.main([*WORKLOAD, "--busy", str(known.busy), "--seed", str(run),
                                 "--result-name", "stewardship-stress-run", *rest])
        detail = json.loads((RESULTS / "stewardship-stress-run.json").read_text())
        summaries.append({"run": run, **{
            name: {"crashed": c.get("crashed"),
                   "ok": c.get("scarce_slot_ratio") is not None
                   and c["verdicts"]["scarce_slot_ratio"] == "PASS"
                   and c["verdicts"]["breaches"] == "PASS" and not c.get("errors"),
                   "non_exempt_records": c.get("upstream_calls", {}).get(
                       "GetPatientRecord (non-exempt)"),
                   "patients_clinical": c.get("patients_clinical"),
                   "same_full_record_again": c.get("same_full_record_again"),
                   "breaches": c.get("breaches")}
            for name, c in detail["configs"].items()}})
    (RESULTS / "stewardship-stress-run.json").unlink(missing_ok=True)
    again = sum(c["same_full_record_again"] or 0 for s in summaries
                for c in s.values() if isinstance(c, dict))
    # The backlog phase is left out (no cold patients), so its targets are not judged.
    verdict = "PASS" if again == 0 and all(c["ok"] for s in summaries for c in s.values()
                                           if isinstance(c, dict)) else "FAIL"
    print(f"\nstewardship under load: {verdict}; the same full record fetched again "
          f"{again} time(s) over {known.runs} run(s)")
    for summary in summaries:
        print("  " + json.dumps(summary))
    write_result("stewardship-stress", {"verdict": verdict, "busy": known.busy,
                                        "workload": WORKLOAD + rest, "runs": summaries,
                                        "last_run": detail})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

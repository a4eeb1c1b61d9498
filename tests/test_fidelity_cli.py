"""facade fidelity: the table a user reads, from a practice folder or from SystmOne."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from facade.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "demo-practice"


def run(*args: str):
    return CliRunner().invoke(main, ["fidelity", *args])


def test_a_practice_folder_table_says_what_was_served_as_what_and_what_was_not():
    result = run("--practice", str(FIXTURES))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("4 record(s), ")
    assert "clinical core" in lines[1] and "(100.0 %)" in lines[1]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert "AllergyIntolerance" in rows["DrugSensitivity"]
    assert "Immunization" in rows["Vaccination"]
    assert "MedicationRequest" in rows["RepeatMedication"]
    assert "Observation" in rows["Narrative"]  # comment notes
    for row in lines[4:]:  # each kind below the header: one not (wholly) served says why
        if row.split()[3] != "0":
            assert "not served:" in row, row
    # Counts only: nothing of the records (names, NHS numbers, codes) is printed.
    for secret in ("Abel", "Agnes", "9990", "XE0Ub"):
        assert secret not in result.output


def test_json_holds_the_same_counts():
    result = run("--practice", str(FIXTURES), "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["records"] == 4 and document["items"] == sum(
        row["items"] for row in document["kinds"])
    core = document["clinical_core"]
    assert core["served"] == core["items"] > 0


def test_bad_use_gets_one_line_naming_the_problem(tmp_path):
    assert "either --practice" in run().output
    assert "--nhs-number" in run("--upstream", "127.0.0.1:1").output
    missing = run("--practice", str(tmp_path / "nowhere"))
    assert missing.exit_code != 0 and "does not exist" in missing.output
    (tmp_path / "bad.xml").write_text("<Response><unclosed></Response>")
    broken = run("--practice", str(tmp_path))
    assert broken.exit_code != 0 and "bad.xml" in broken.output


def test_records_fetched_whole_from_systmone(simulator, practice, tmp_path):
    host, port = simulator.address
    numbers = [p.identity.value for p in practice.index.summaries
               if p.identity.kind == "NHSNumber"][:2]
    result = run("--upstream", f"{host}:{port}", "--record-interval", "0",
                 "--state-dir", str(tmp_path), *(f"--nhs-number={n}" for n in numbers))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 record(s), ")
    # The whole record was asked for (no Filter): kinds no type serves are counted too.
    assert "Narrative" in result.output

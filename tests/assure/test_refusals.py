"""facade assure refuses, in one line, what it must not do."""

from __future__ import annotations

from click.testing import CliRunner

from facade.cli import main


def test_a_live_profile_is_refused_unless_the_run_is_read_only(tmp_path):
    result = CliRunner().invoke(main, ["assure", "--report", str(tmp_path / "r"),
                                       "--state-dir", str(tmp_path / "s"),
                                       "--upstream", "127.0.0.1:9"],
                                env={"FACADE_ENV": "live"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--read-only" in lines[0]
    assert not (tmp_path / "r").exists()


def test_an_invalid_nhs_number_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["assure", "--report", str(tmp_path / "r"),
                                       "--nhs-number", "1234567890"])
    assert result.exit_code == 2 and "not a valid NHS number" in result.output


def test_the_practice_options_are_the_simulator_s_only(tmp_path):
    result = CliRunner().invoke(main, ["assure", "--upstream", "127.0.0.1:9",
                                       "--patients", "5"])
    assert result.exit_code == 2 and "not with --upstream" in result.output

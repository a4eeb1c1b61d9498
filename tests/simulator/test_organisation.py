"""Each simulated practice names its own organisation in GetOrganisationMetaData.

A facade keys what it caches by the organisation SystmOne names, so a simulator
restarted with another practice on the same port must name another one.
"""

from __future__ import annotations

import re
import shutil

from simulator.practice import folder_practice, generated_practice
from simulator.practice.generator import DEFAULT_PATIENTS, DEFAULT_SEED, default_organisation
from simulator.practice.organisation import fictitious_code, is_fictitious_code

from ..conftest import AS_OF
from .test_folder import GENUINE_STYLE, write

#: The code of every GP practice (a prescribing cost centre): one letter, five digits.
PRACTICE_CODE = re.compile(r"[A-Z][0-9]{5}")


def codes(practice) -> tuple[str, ...]:
    return tuple(site.id for site in practice.organisation.sites)


def test_the_default_practice_is_tarnfield_b99991():
    practice = generated_practice(DEFAULT_PATIENTS, DEFAULT_SEED, as_of=AS_OF)
    assert codes(practice) == ("B99991", "B99992")
    assert practice.organisation == default_organisation()


def test_every_other_generated_practice_names_codes_of_its_own():
    found = {(patients, seed): codes(generated_practice(patients, seed, as_of=AS_OF))
             for patients, seed in ((100, 2), (99, 1), (12, 99), (40, 7), (41, 7))}
    assert len(set(found.values())) == len(found)  # by seed and by list size
    for sites in found.values():
        assert len(set(sites)) == 2 and "B99991" not in sites
        assert all(is_fictitious_code(code) and not PRACTICE_CODE.fullmatch(code)
                   for code in sites)
    again = codes(generated_practice(40, 7, as_of=AS_OF))
    assert again == found[(40, 7)]  # deterministic
    # Still Tarnfield: names, users and the primary/current site are the default's.
    other = generated_practice(12, 99, as_of=AS_OF).organisation
    default = default_organisation()
    assert [s.name for s in other.sites] == [s.name for s in default.sites]
    assert other.users == default.users and other.current_site.primary


def test_a_folder_names_codes_derived_from_its_patients(tmp_path):
    one, copy, more = tmp_path / "one", tmp_path / "copy", tmp_path / "more"
    for folder in (one, more):
        folder.mkdir()
        write(folder, "alice.xml", GENUINE_STYLE.format(nhs="9990000018"))
        write(folder, "bob.xml", GENUINE_STYLE.format(nhs="9990000026"))
    write(more, "carol.xml", GENUINE_STYLE.format(nhs="9990000034"))
    shutil.copytree(one, copy)
    (copy / "alice.xml").rename(copy / "zz-alice.xml")  # file names do not count
    write(copy, "notes.txt", "ignored")

    first = codes(folder_practice(one))
    assert codes(folder_practice(copy)) == first
    assert codes(folder_practice(more)) != first
    assert all(is_fictitious_code(code) for code in first) and len(set(first)) == 2
    generated = {codes(generated_practice(n, s, as_of=AS_OF)) for n, s in ((100, 1), (40, 7))}
    assert first not in generated


def test_the_simulator_answers_with_the_practices_code(start_simulator):
    other = generated_practice(12, seed=99, as_of=AS_OF)
    live = start_simulator(practice_override=other)
    metadata = live.client().get_organisation_metadata()
    primary = metadata.find("Site[PrimarySite]")
    assert primary.findtext("ID") == other.organisation.current_site.id != "B99991"
    assert primary.findtext("Name") == "Tarnfield Medical Practice"


def test_fictitious_codes_have_the_ods_shape_and_never_a_practice_codes():
    made = {fictitious_code(f"practice {n}", "B99991") for n in range(2000)}
    assert len(made) > 1990  # 26**4 codes: collisions are rare
    assert all(re.fullmatch(r"B9[A-Z]{4}", code) for code in made)
    assert not any(PRACTICE_CODE.fullmatch(code) for code in made)

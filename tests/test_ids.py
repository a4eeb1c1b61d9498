import os
import re

import pytest

from facade.ids import IdCodec, load_or_create_key
from facade.protocol.identity import Identity

NHS = Identity.nhs_number("9990000018")


@pytest.fixture
def codec(tmp_path):
    return IdCodec.from_state_dir(tmp_path)


def test_patient_ids_are_opaque_stable_and_reversible(codec, tmp_path):
    patient_id = codec.patient_id(NHS)
    assert "9990000018" not in patient_id and patient_id.isalnum() and patient_id.islower()
    assert len(patient_id) <= 64
    assert IdCodec.from_state_dir(tmp_path).patient_id(NHS) == patient_id  # after a restart
    assert codec.patient_identity(patient_id) == NHS
    pseudo = Identity("PseudoNumber", "0002767317")
    assert codec.patient_identity(codec.patient_id(pseudo)) == pseudo


def test_another_deployment_key_gives_other_ids_that_do_not_decode(codec, tmp_path):
    other = IdCodec.from_state_dir(tmp_path / "elsewhere")
    assert other.patient_id(NHS) != codec.patient_id(NHS)
    assert codec.patient_identity(other.patient_id(NHS)) is None


@pytest.mark.parametrize("bad", ["", "abc", "x" * 65, "not-base32!", "aaaaaaaaaaaaaaaa"])
def test_made_up_ids_decode_to_nothing(codec, bad):
    assert codec.patient_identity(bad) is None
    assert codec.record_of("Observation", bad) is None


KEYS = ["b95ee04200000000-0", "b95ee04200000000-17", "a1b2c3d400000000",
        "Multilex-2007553", "Dmd-42010411000001105", "a key with spaces and ünïcode " * 4]


@pytest.mark.parametrize("key", KEYS)
def test_record_resource_ids_give_back_their_patient(codec, key):
    made = codec.resource_id("Condition", NHS, key)
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", made)  # a FHIR id
    assert codec.resource_id("Condition", NHS, key) == made  # stable
    assert codec.record_of("Condition", made) == NHS
    # The type is bound in: a Condition id is no Observation's, and no Patient's.
    assert codec.record_of("Observation", made) is None
    assert codec.patient_identity(made) is None
    assert codec.record_of("Condition", codec.patient_id(NHS)) is None


def test_record_resource_ids_differ_by_item_type_and_patient(codec):
    other = Identity.nhs_number("9990000026")
    made = {codec.resource_id(t, who, key) for t in ("Condition", "Observation")
            for who in (NHS, other) for key in KEYS}
    assert len(made) == 2 * 2 * len(KEYS)
    pseudo = Identity("PseudoNumber", "0002767317")
    assert codec.record_of("Immunization", codec.resource_id("Immunization", pseudo, "k")) \
        == pseudo


def test_key_file_is_private_and_created_once(tmp_path):
    key = load_or_create_key(tmp_path / "k")
    assert load_or_create_key(tmp_path / "k") == key and len(key) == 64
    assert os.stat(tmp_path / "k").st_mode & 0o077 == 0
    (tmp_path / "bad").write_text("zz")
    with pytest.raises(ValueError, match="hex key"):
        load_or_create_key(tmp_path / "bad")


def test_a_tampered_record_resource_id_is_nobodys(codec):
    made = codec.resource_id("Observation", NHS, "b95ee04200000000-3")
    for changed in (made[:-1] + ("A" if made[-1] != "A" else "B"), made[1:], made + "A",
                    made.replace(made[5], "_" if made[5] != "_" else "-")):
        assert codec.record_of("Observation", changed) is None

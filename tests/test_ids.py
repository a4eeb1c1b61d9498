import os

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
    assert codec.observation_source(bad) is None


@pytest.mark.parametrize("item", ["b95ee04200000000-0", "b95ee04200000000-17",
                                  "003d4fc00000ae00-bp", "not-a-uid-3"])
def test_observation_ids_carry_patient_and_item(codec, item):
    observation_id = codec.observation_id(NHS, item)
    assert len(observation_id) <= 64 or item == "not-a-uid-3"
    assert codec.observation_source(observation_id) == (NHS, item)
    # A Patient id is not an Observation id and vice versa.
    assert codec.patient_identity(observation_id) is None
    assert codec.observation_source(codec.patient_id(NHS)) is None


def test_key_file_is_private_and_created_once(tmp_path):
    key = load_or_create_key(tmp_path / "k")
    assert load_or_create_key(tmp_path / "k") == key and len(key) == 64
    assert os.stat(tmp_path / "k").st_mode & 0o077 == 0
    (tmp_path / "bad").write_text("zz")
    with pytest.raises(ValueError, match="hex key"):
        load_or_create_key(tmp_path / "bad")

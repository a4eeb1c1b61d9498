import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from facade.ids import KEY_FILE, IdCodec, IdKeyMismatch, load_or_create_key
from facade.protocol.identity import Identity
from facade.stewardship.redis_store import RedisStore

from .redisserver import private_redis

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


def case_changes(made: str) -> list[str]:
    """``made`` with its letters' case changed: all of them, and each one alone."""
    changed = [made.swapcase()]
    changed += [made[:n] + made[n].swapcase() + made[n + 1:]
                for n in range(len(made)) if made[n].isalpha()]
    return changed


def test_ids_are_case_sensitive_in_every_family(codec):
    """FHIR ids are case-sensitive: the same letters in another case name nothing."""
    patient = codec.patient_id(NHS)
    assert any(c.isalpha() for c in patient)
    for changed in case_changes(patient):
        assert codec.patient_identity(changed) is None, changed
    record = codec.resource_id("Observation", NHS, "b95ee04200000000-3")
    for changed in case_changes(record):
        assert codec.record_of("Observation", changed) is None, changed
    binary = codec.document_id(NHS, "a1b2c3d4e5f60718")
    for changed in case_changes(binary):
        assert codec.document_of(changed) is None, changed


def test_organisation_ids_are_lower_case_hex_digests(codec):
    """They are looked for among the organisation's resources by equality: an id in
    another case is found nowhere (tests/fhir/test_versions.py reads one)."""
    made = codec.organisation_id("Practitioner", "dlittler2405")
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert made == codec.organisation_id("Practitioner", "dlittler2405")


# --- one key for every instance sharing a Redis ------------------------------------------

@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("shared id key not tested: no redis-server on PATH")
    with private_redis(binary, tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def shared(redis_url):
    """A store on the real Redis, in a namespace of its own (as instances of one deployment)."""
    store = RedisStore.from_url(redis_url, namespace=f"ids-{uuid.uuid4().hex[:8]}:")
    yield store
    store.close()


def test_instances_on_one_redis_mint_the_same_ids_without_copying_a_file(shared, tmp_path):
    first = IdCodec.from_state_dir(tmp_path / "a", shared)
    second = IdCodec.from_state_dir(tmp_path / "b", shared)
    assert second.patient_identity(first.patient_id(NHS)) == NHS
    assert second.record_of("Observation", first.resource_id("Observation", NHS, "k")) == NHS
    # Each keeps a copy (owner-only) for tools that read the state dir.
    assert (tmp_path / "b" / KEY_FILE).read_text() == (tmp_path / "a" / KEY_FILE).read_text()
    assert (tmp_path / "b" / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_an_existing_key_becomes_the_shared_one_so_earlier_ids_stay_valid(shared, tmp_path):
    before = IdCodec.from_state_dir(tmp_path / "a").patient_id(NHS)  # before scale-out
    IdCodec.from_state_dir(tmp_path / "a", shared)
    joined = IdCodec.from_state_dir(tmp_path / "b", shared)
    assert joined.patient_identity(before) == NHS


def test_an_instance_whose_key_differs_refuses_naming_its_file(shared, tmp_path):
    IdCodec.from_state_dir(tmp_path / "a", shared)
    IdCodec.from_state_dir(tmp_path / "b")  # made alone: another key
    with pytest.raises(IdKeyMismatch) as refused:
        IdCodec.from_state_dir(tmp_path / "b", shared)
    message = str(refused.value)
    assert str(tmp_path / "b" / KEY_FILE) in message and "\n" not in message
    assert "move the file aside" in message
    (tmp_path / "b" / KEY_FILE).rename(tmp_path / "b" / "id-key.old")  # as it says
    assert IdCodec.from_state_dir(tmp_path / "b", shared).patient_id(NHS) \
        == IdCodec.from_state_dir(tmp_path / "a", shared).patient_id(NHS)


def test_instances_starting_together_agree_on_one_new_key(shared, tmp_path):
    with ThreadPoolExecutor(8) as pool:
        codecs = list(pool.map(lambda n: IdCodec.from_state_dir(tmp_path / str(n % 4), shared),
                               range(16)))
    assert len({codec.patient_id(NHS) for codec in codecs}) == 1

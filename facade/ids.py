"""Opaque, stable logical ids that reveal no NHS number.

URLs end up in access logs, so a Patient's id must not be its NHS number, yet
every worker and instance must give the same patient the same id, across
restarts, and turn an id back into a SystmOne identity without a lookup
table. Deterministic authenticated encryption (AES-SIV, RFC 5297) does both:
the same identity always encrypts to the same id under the deployment's key,
and an id that was not made with that key fails to decrypt (a 404, never a
guess at somebody else's record).

Layout of the plaintext (the resource type is the associated data)::

    Patient        kind letter + identity value             e.g. "N9990000018"
    anything else  patient plaintext + 0x00 + key digest    8 bytes of a keyed hash

A resource made from a patient's record is found by reading that record, so its
id needs to give back only the patient: the key naming the source item (an
EventUID and position, a ProblemUID, a drug) travels as a keyed digest, which
keeps every id the same length whatever the key.

Every instance must hold the same key, or an id minted by one is a 404 on the
next. One instance keeps it in its state dir (``id-key``). Instances sharing a
Redis take it from there: the first to start puts its key in (its existing
file's, or a new one) with SET NX, and every instance writes the shared key to
its own state dir if it has none; an instance whose file holds another key
refuses to start, naming the file, rather than answer 404s for the others' ids.

Patient ids are lower-case base32 without padding (letters and digits only).
Every id is case-sensitive, as FHIR's ids are: the same letters in another case
are another id, which names nothing (a Patient id is never upper-cased to decode
it, and the others' base64 decodes to other bytes, which fail authentication).
A record holds thousands of resources, each needing an id on every fetch, so
theirs are URL-safe base64 with ``.`` for ``_`` (FHIR id characters; 48 for
an NHS number): several times cheaper to write than base32.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from .files import private_dir
from .protocol.identity import Identity, IdentityError
from .stewardship.store import Store

KEY_FILE = "id-key"
#: The id key in a shared store (Redis): one for every instance.
SHARED_KEY = "ids:key"
KEY_DIGEST_BYTES = 8  # two of a record's n items share an id with odds about n² / 2**65
_TO_ID = bytes.maketrans(b"_", b".")
_FROM_ID = str.maketrans(".", "_")
_RECORD_ID = re.compile(r"[A-Za-z0-9\-.]+")
#: A Patient id as ``_encode`` writes it: lower-case base32 letters and digits, unpadded.
_PATIENT_ID = re.compile(r"[a-z2-7]{1,64}")
_KIND_LETTERS = {"NHSNumber": "N", "PseudoNumber": "P", "ClientID": "C"}
_LETTER_KINDS = {letter: kind for kind, letter in _KIND_LETTERS.items()}
#: A SystmOne UID as GetPatientRecord writes it: lower-case hex, whole bytes.
_HEX_UID = re.compile(r"(?:[0-9a-f]{2})+")


class IdCodec:
    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(key)
        # A separate key for digests, derived so that neither use reveals the other.
        self._digest_key = hmac.new(key, b"facade digest key", hashlib.sha256).digest()
        # Reads of the same patients and resources repeat: encrypting or decrypting each
        # id once per process is enough (AES-SIV costs microseconds a call; a read made two).
        self.patient_identity = functools.lru_cache(maxsize=4096)(self._patient_identity)
        self.patient_id = functools.lru_cache(maxsize=4096)(self._patient_id)
        self.record_of = functools.lru_cache(maxsize=16384)(self._record_of)

    @classmethod
    def from_state_dir(cls, state_dir: Path, shared: Store | None = None) -> IdCodec:
        """The deployment's codec; its key is created once, readable by the owner only.

        ``shared``: the store several instances share (Redis), which then holds the key.
        """
        path = Path(state_dir) / KEY_FILE
        return cls(shared_key(path, shared) if shared is not None
                   else load_or_create_key(path))

    # -- Patient ---------------------------------------------------------------

    def _patient_id(self, identity: Identity) -> str:
        return self._encode(b"Patient", _identity_bytes(identity))

    def _patient_identity(self, patient_id: str) -> Identity | None:
        plain = self._decode(b"Patient", patient_id)
        return _identity_from(plain) if plain is not None else None

    # -- resources made from a patient's record -------------------------------------

    def resource_id(self, resource_type: str, identity: Identity, key: str) -> str:
        """The id of the ``resource_type`` made from the item ``key`` names in the record
        of ``identity``: the same for the same item on every fetch, worker and instance."""
        digest = hashlib.blake2b(key.encode("utf-8"), key=self._digest_key,
                                 digest_size=KEY_DIGEST_BYTES).digest()  # a keyed MAC
        token = self._siv.encrypt(_identity_bytes(identity) + b"\x00" + digest,
                                  [resource_type.encode()])
        return base64.urlsafe_b64encode(token).rstrip(b"=").translate(_TO_ID).decode("ascii")

    def _record_of(self, resource_type: str, resource_id: str) -> Identity | None:
        """The patient whose record holds the resource ``resource_id`` names (None: not an
        id this deployment made for that type)."""
        if len(resource_id) > 64 or not _RECORD_ID.fullmatch(resource_id):
            return None
        text = resource_id.translate(_FROM_ID) + "=" * (-len(resource_id) % 4)
        try:
            plain = self._siv.decrypt(base64.urlsafe_b64decode(text), [resource_type.encode()])
        except (binascii.Error, ValueError, InvalidTag):
            return None
        if b"\x00" not in plain:
            return None
        return _identity_from(plain.partition(b"\x00")[0])

    # -- documents: the id carries the DocumentUID -------------------------------------

    def document_id(self, identity: Identity, uid: str) -> str | None:
        """The Binary id of the document ``uid`` of the patient's record: the identity and
        the UID themselves (encrypted), since reading it asks SystmOne for that UID. A
        SystmOne UID (hex) travels as its bytes; None when it would not fit in 64
        characters (the document is then described but not linked)."""
        hexadecimal = _HEX_UID.fullmatch(uid) is not None
        packed = b"\x01" + bytes.fromhex(uid) if hexadecimal else b"\x02" + uid.encode()
        plain = _identity_bytes(identity) + b"\x01" + packed
        if len(plain) + 16 > 48:  # base64 of 48 bytes is 64 characters (an NHS number: 37)
            return None
        token = self._siv.encrypt(plain, [b"Binary"])
        return base64.urlsafe_b64encode(token).rstrip(b"=").translate(_TO_ID).decode("ascii")

    def document_of(self, resource_id: str) -> tuple[Identity, str] | None:
        """The patient and DocumentUID a Binary id names (None: not one of ours)."""
        if len(resource_id) > 64 or not _RECORD_ID.fullmatch(resource_id):
            return None
        text = resource_id.translate(_FROM_ID) + "=" * (-len(resource_id) % 4)
        try:
            plain = self._siv.decrypt(base64.urlsafe_b64decode(text), [b"Binary"])
        except (binascii.Error, ValueError, InvalidTag):
            return None
        who, separator, packed = plain.partition(b"\x01")
        identity = _identity_from(who) if separator else None
        if identity is None or not packed:
            return None
        if packed[:1] == b"\x02":
            return identity, packed[1:].decode("utf-8", "replace")
        return identity, packed[1:].hex()

    # -- resources made from the organisation's metadata ---------------------------

    def organisation_id(self, resource_type: str, key: str) -> str:
        """The id of the ``resource_type`` made from GetOrganisationMetaData's user or site
        that ``key`` names (a UserName, a site's ODS code): a keyed digest, so no login name
        reaches a URL, the same on every fetch, worker and instance sharing the key. Nothing
        needs to be read back from it: the metadata is small and is searched for the id."""
        return self.digest(f"{resource_type}\x00{key}")

    # -- digests ---------------------------------------------------------------

    def digest(self, text: str) -> str:
        """A keyed digest naming PHI (an identity, search criteria) in cache keys and
        logs without revealing it, the same in every instance sharing the key."""
        return hmac.new(self._digest_key, text.encode(), hashlib.sha256).hexdigest()[:32]

    # -- encoding --------------------------------------------------------------

    def _encode(self, resource_type: bytes, plain: bytes) -> str:
        token = self._siv.encrypt(plain, [resource_type])
        return base64.b32encode(token).decode("ascii").rstrip("=").lower()

    def _decode(self, resource_type: bytes, text: str) -> bytes | None:
        """The plaintext of an id ``_encode`` wrote, exactly as written: base32 is read
        upper-case, but an id holding an upper-case letter is another id, not this one."""
        if not _PATIENT_ID.fullmatch(text):
            return None
        padded = text.upper() + "=" * (-len(text) % 8)
        try:
            return self._siv.decrypt(base64.b32decode(padded), [resource_type])
        except (binascii.Error, ValueError, InvalidTag):
            return None


class IdKeyMismatch(RuntimeError):
    """This instance's id key is not the one the other instances share."""


def load_or_create_key(path: Path) -> bytes:
    """A 512-bit AES-SIV key (AES-256 strength) kept in ``path``; created atomically once."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    return _write_key(path, AESSIV.generate_key(512))


def shared_key(path: Path, store: Store) -> bytes:
    """The key every instance on ``store`` uses, kept in ``path`` too.

    The first instance offers its own file's key (so ids minted before scale-out stay
    valid) or a new one; SET NX keeps the first offer. A file holding another key is
    refused: its instance would answer 404 for every id the others mint.
    """
    local = _read_key(path) if path.exists() else None
    stored = store.get(SHARED_KEY)
    if stored is None:
        store.add(SHARED_KEY, (local or AESSIV.generate_key(512)).hex().encode(), ttl=None)
        stored = store.get(SHARED_KEY)  # ours, or the one another instance offered first
    key = _parse_key(stored.decode("ascii", "replace"), f"the shared store's {SHARED_KEY}")
    if local is None:
        local = _write_key(path, key)  # another worker may have written it first
    if local != key:
        raise IdKeyMismatch(
            f"{path} holds an id key other than the one the instances sharing "
            f"FACADE_REDIS_URL use, so ids they mint would be 404s here: move the file "
            f"aside and start again to use the shared key (it is written back)")
    return key


def _write_key(path: Path, key: bytes) -> bytes:
    """Write ``key`` to a new file readable by its owner only; the file's key if it exists.

    Written whole under another name, then linked into place (link fails if the name
    is taken): a worker starting beside us never reads a half-written key.
    """
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(key.hex().encode())
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:  # another worker made it first: use theirs
        return _read_key(path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> bytes:
    return _parse_key(path.read_text(), str(path))


def _parse_key(text: str, path: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path} does not hold a hex key") from None
    if len(key) != 64:
        raise ValueError(f"{path} holds a {len(key) * 8}-bit key; 512 bits expected")
    return key


def _identity_bytes(identity: Identity) -> bytes:
    return (_KIND_LETTERS[identity.kind] + identity.value).encode("utf-8")


def _identity_from(plain: bytes) -> Identity | None:
    text = plain.decode("utf-8", "replace")
    kind = _LETTER_KINDS.get(text[:1])
    try:
        return Identity(kind, text[1:]) if kind else None
    except IdentityError:
        return None

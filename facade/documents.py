"""Documents from SystmOne: GetDocument, and reading back the files it writes.

GetDocument does not return a document in its reply: SystmOne writes the file(s) into
a folder on the SystmOne PC named in the request (``WriteTo``) and names them (TPP spec
v33.4). The facade therefore needs that folder twice: as SystmOne names it
(``FACADE_DOCUMENT_WRITE_TO``, e.g. ``D:\\facade-documents``) and as this machine reads
it (``FACADE_DOCUMENT_DIR``, e.g. a share of it mounted here, or the same path when the
facade runs on the SystmOne PC). docs/operators.md ("Documents") says how to set it up.

Each read gets a folder of its own inside it, created here (SystmOne refuses a WriteTo
that does not exist), named by a random token, readable by this user only, and removed
with what SystmOne wrote as soon as the files are read: documents are never kept, on
disk or in the cache, beyond the request that asked for one. Only files named in the
reply, inside that folder, are read. A document exported as several image files is
answered as one zip of them, in the order SystmOne names them.

GP Connect (Access Document): documents over 5 MB are not retrievable; larger ones are
refused with an OperationOutcome (422, too-costly), and their files removed unread.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from .fhir.outcome import FhirError
from .protocol.identity import Identity
from .upstream.errors import PermanentError

log = logging.getLogger(__name__)

#: GP Connect's limit on a retrievable document (mappings/documentreference.py says it).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
#: What SystmOne's error for a document it cannot find says (simulator/messages.py).
NOT_FOUND_TEXTS = ("no document", "not found", "does not exist in")
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:|\\\\)")


@dataclass(frozen=True)
class Document:
    content_type: str
    data: bytes
    files: int  # how many files SystmOne wrote (several: data is their zip)


class DocumentFetcher:
    """GetDocument through the pool (a request slot, like any other call), then the files."""

    def __init__(self, pool, local_dir: Path | None, write_to: str | None,
                 media_types: dict[str, str], max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.pool = pool
        self.local_dir = Path(local_dir) if local_dir else None
        self.write_to = write_to or (str(local_dir) if local_dir else None)
        self.media_types = media_types
        self.max_bytes = max_bytes

    def fetch(self, identity: Identity, uid: str) -> Document | None:
        """The document ``uid`` of the patient's record; None when SystmOne has none."""
        folder = self._own_folder()
        remote = _joined(self.write_to, folder.name)
        try:
            try:
                paths = self.pool.call("GetDocument",
                                       lambda c: c.get_document(identity, uid, remote))
            except PermanentError as error:
                if any(text in error.message.lower() for text in NOT_FOUND_TEXTS):
                    return None
                raise
            return self._read(folder, remote, paths)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _own_folder(self) -> Path:
        if self.local_dir is None:
            raise FhirError(501, "not-supported",
                            "Documents are not served by this deployment: FACADE_DOCUMENT_DIR "
                            "is not set (the folder SystmOne writes GetDocument's files to, "
                            "as this machine reads it; see docs/operators.md, Documents)")
        folder = self.local_dir / f"d-{secrets.token_hex(8)}"
        try:
            folder.mkdir(mode=0o700)
        except OSError as error:
            log.warning("document folder unusable: %s", type(error).__name__)
            raise FhirError(503, "transient",
                            "Documents cannot be fetched now: FACADE_DOCUMENT_DIR cannot be "
                            "written to from here (is the SystmOne PC's folder mounted?)",
                            {"Retry-After": "60"}) from None
        return folder

    def _read(self, folder: Path, remote: str, paths: list[str]) -> Document:
        files = [folder / _file_name(path, remote) for path in paths]
        missing = [path for path in files if not path.is_file() or path.is_symlink()]
        if missing:
            raise FhirError(503, "transient",
                            "SystmOne wrote the document where this machine cannot read it: "
                            "FACADE_DOCUMENT_DIR and FACADE_DOCUMENT_WRITE_TO must name the "
                            "same folder", {"Retry-After": "60"})
        size = sum(path.stat().st_size for path in files)
        if size > self.max_bytes:
            raise FhirError(422, "too-costly",
                            f"The document is {size} bytes; documents over "
                            f"{self.max_bytes // (1024 * 1024)} MB are not served (GP Connect)")
        if len(files) == 1:
            return Document(self._media_type(files[0].name), files[0].read_bytes(), 1)
        return Document("application/zip", _zipped(files), len(files))

    def _media_type(self, name: str) -> str:
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        return self.media_types.get(extension, "application/octet-stream")


def _joined(write_to: str, name: str) -> str:
    """The per-read folder as SystmOne names it: Windows paths join with a backslash."""
    separator = "\\" if _WINDOWS_PATH.match(write_to) or "\\" in write_to else "/"
    return write_to.rstrip("\\/") + separator + name


def _file_name(path: str, remote: str) -> str:
    """The name of a file SystmOne says it wrote, which must be in the folder asked for."""
    flavour = PureWindowsPath if "\\" in remote or _WINDOWS_PATH.match(remote) \
        else PurePosixPath
    written, folder = flavour(path), flavour(remote)
    if written.parent != folder or written.name in ("", ".", ".."):
        raise FhirError(502, "exception", "SystmOne named a document file outside the folder "
                                          "it was asked to write to")
    return written.name


def _zipped(files: list[Path]) -> bytes:
    """Several files (pages exported as images) as one zip, in SystmOne's order; fixed
    timestamps, so the same files always give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.writestr(zipfile.ZipInfo(path.name, (1980, 1, 1, 0, 0, 0)),
                             path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()

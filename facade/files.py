"""Files and folders that hold keys, ids, audit and PHI: readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path | str) -> Path:
    """``path`` and every missing parent made with mode 0700.

    ``Path.mkdir(mode=0o700, parents=True)`` gives the mode to the last folder only: the
    demo's state dir, made as the parent of the simulator's folder, came out 0755. An
    existing folder keeps its mode (the operator's choice)."""
    asked = path = Path(path)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another worker
            pass
        else:
            os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask; 0700 is ours
    return asked


def private_file(path: Path | str) -> Path:
    """``path`` created empty with mode 0600 (in a private folder) unless it exists; a
    database opened on it then makes its journal files with the same mode."""
    path = Path(path)
    private_dir(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    return path

"""A stand-in for ``open`` whose file fails every write like a full disk (shared by tests)."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path


class FullDisk:
    """An open file whose writes raise ``OSError(ENOSPC)``; the rest goes to the real file."""

    def __init__(self, path: Path, mode: str) -> None:
        self.handle = builtins.open(path, mode)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        self.handle.flush()

    def fileno(self) -> int:
        return self.handle.fileno()

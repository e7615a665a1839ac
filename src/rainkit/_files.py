"""The one way rainkit writes a file: atomically, so that a reader never sees half of it.

Every file rainkit writes (images, checkpoints, CSV tables, logs rewritten in place, cached
measurements, downloads) goes through this module. The bytes go to a hidden temporary file in
the destination's folder (same file system, so the rename below is atomic), which is flushed and
``fsync``-ed, then renamed over the destination with :func:`os.replace`; finally the folder
itself is synced, so that the rename survives a power cut (POSIX; skipped where a folder cannot
be opened). On any failure -- a full disk (``OSError: [Errno 28]``), an exception in the
writer, ``Ctrl-C`` -- the temporary file is removed and the exception propagates; a file that
was at the destination before is untouched.

Temporary names are ``.<name>.<pid>.<random>.partial<suffix>``: hidden, unique per process and
call (two threads or processes writing the same destination never share one), and ending in the
destination's suffix so that writers that pick a format from the name (PIL) still can.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from rainkit._checks import check_output_path

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text"]


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
                          f"{path.suffix}")


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is synced and renamed over ``path``.

    For writers that need a file name rather than an open file (``PIL.Image.save`` picks the
    format from the suffix, which the temporary name keeps). The folder of ``path`` is created
    if needed. When the ``with`` body raises, or leaves no file at the temporary path, nothing
    is renamed, the temporary file is removed and ``path`` is untouched.

    Args:
        path: the destination file.

    Yields:
        The temporary :class:`~pathlib.Path`, in the same folder as ``path``.

    Raises:
        TypeError: ``path`` is not a ``str`` or :class:`os.PathLike`.
        ValueError: ``path`` is empty, a folder, or inside a file; or the body wrote nothing.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("all or nothing")
        >>> target.read_text()
        'all or nothing'
        >>> sorted(p.name for p in target.parent.iterdir())  # no temporary file left
        ['notes.txt']
    """
    path = check_output_path(path, "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise ValueError(f"nothing was written to the temporary file for {path}")
        _sync_file(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _sync_folder(path.parent)


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write a file atomically: ``write(handle)`` fills a temporary file that replaces ``path``.

    The handle is a binary file open for writing; ``write`` may call ``handle.write`` any
    number of times (``torch.save(obj, handle)``, ``image.save(handle, format="PNG")``,
    ``handle.write(data)``). Afterwards the file is flushed, synced and renamed over ``path``.
    New files get the usual permissions (``0o666`` less the umask).

    Args:
        path: the destination file; its folder is created if needed.
        write: called once with the open handle; its return value is ignored.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a path, or ``write`` is not callable.
        ValueError: ``path`` is empty, a folder, or inside a file.
        OSError: the disk is full or not writable (no partial file is left); any exception
            raised by ``write`` propagates the same way.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> target = Path(tempfile.mkdtemp()) / "sub" / "data.bin"
        >>> atomic_write(target, lambda handle: handle.write(b"\\x00\\x01")).read_bytes()
        b'\\x00\\x01'
    """
    if not callable(write):
        raise TypeError(f"write must be a callable taking a binary file, got "
                        f"{type(write).__name__}")
    path = check_output_path(path, "path")
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        with open(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`).

    Args:
        path: the destination file; its folder is created if needed.
        data: the file's whole content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``data`` is not bytes-like, or ``path`` is not a path.
        ValueError: ``path`` is empty, a folder, or inside a file.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> atomic_write_bytes(Path(tempfile.mkdtemp()) / "a.bin", b"abc").read_bytes()
        b'abc'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, bytearray or memoryview, got {type(data).__name__}")
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, encoded (UTF-8 by default; newlines as given).

    Args:
        path: the destination file; its folder is created if needed.
        text: the file's whole content.
        encoding: the text encoding.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``text`` is not a ``str``, or ``path`` is not a path.
        ValueError: ``path`` is empty, a folder, or inside a file.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> atomic_write_text(Path(tempfile.mkdtemp()) / "a.csv", "name,psnr\\n").read_text()
        'name,psnr\\n'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode(encoding))

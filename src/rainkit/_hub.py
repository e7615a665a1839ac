"""Private helpers for weight files: the torch hub cache, SHA-256 checks and opt-in downloads.

Every pretrained file rainkit reads (torchvision's VGG19 and AlexNet, published deraining
checkpoints) is resolved here, so the messages that say where a missing file belongs, and the
hash check, are written once. Nothing here downloads unless :func:`download_file` is called;
that one function streams to a temporary file, checks size and hash, renames atomically, locks
against a concurrent download of the same file, retries with backoff, and turns HTML pages,
404s and a full disk into clear messages, leaving nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import torch

from rainkit._files import atomic_path

__all__ = [
    "download_file",
    "hub_checkpoint_dir",
    "resolve_weights_file",
    "sha256_file",
    "verify_sha256",
]


def hub_checkpoint_dir() -> Path:
    """The torch hub cache folder for weight files: ``torch.hub.get_dir() / "checkpoints"``.

    ``$TORCH_HOME/hub/checkpoints`` when ``TORCH_HOME`` is set, else ``~/.cache/torch/hub/
    checkpoints``; torchvision keeps its ImageNet weights there too.
    """
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights_file(
    file_name: str,
    path: str | os.PathLike[str] | None = None,
    *,
    what: str,
    url: str | None = None,
    hint: str = "",
) -> Path:
    """Find a weight file: at ``path`` when given, else ``file_name`` in the hub cache.

    Args:
        file_name: the file's name in the hub cache.
        path: an explicit file the user gave (takes precedence), or ``None``.
        what: what the file holds, for messages (``"VGG19 ImageNet weights"``).
        url: where the file can be downloaded from, named in the message.
        hint: a sentence appended to the message (for example the download command).

    Returns:
        The path of an existing file.

    Raises:
        FileNotFoundError: the file is not there; the message names the exact file name, the
            folder it belongs in and, when known, its URL.
    """
    source = f" from {url}" if url else ""
    extra = f" {hint}" if hint else ""
    if path is not None:
        candidate = Path(os.fspath(path)).expanduser()
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{what}: file not found at {str(candidate)!r} (expected a copy of "
                f"{file_name!r}{source}).{extra}"
            )
        return candidate
    directory = hub_checkpoint_dir()
    candidate = directory / file_name
    if not candidate.is_file():
        raise FileNotFoundError(
            f"{what} not found: expected the file {file_name!r} in the torch hub cache folder "
            f"{str(directory)!r} (torch.hub.get_dir()/checkpoints; set TORCH_HOME to move it). "
            f"rainkit never downloads on its own: fetch it{source} and put it there, or pass "
            f"its path.{extra}"
        )
    return candidate


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """The hexadecimal SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(actual: str, expected: str) -> bool:
    """A full SHA-256, or torchvision's prefix of it (at least 8 hex digits, as in its names)."""
    expected = expected.lower()
    return actual == expected if len(expected) == 64 else actual.startswith(expected)


def verify_sha256(
    path: str | os.PathLike[str], expected: str, *, what: str, hint: str = ""
) -> str:
    """Raise :class:`ValueError` unless the file's SHA-256 equals ``expected``; return it.

    ``expected`` is the full hexadecimal digest, or a prefix of at least 8 digits (torchvision
    names its files with one: ``vgg19-dcbb9e9d.pth``). The message names the file, both digests,
    then ``hint`` (what to do).
    """
    actual = sha256_file(path)
    if not _matches(actual, expected):
        extra = f" {hint}" if hint else ""
        raise ValueError(
            f"{what}: {os.fspath(path)!r} has SHA-256 {actual}, expected {expected.lower()}"
            f"{'...' if len(expected) < 64 else ''}; the file is damaged, truncated or a "
            f"different file.{extra}"
        )
    return actual


#: Seconds to wait before each retry of a failed download (then it gives up).
RETRY_DELAYS = (1.0, 3.0, 9.0)
_CHUNK = 1 << 20


class _Incomplete(OSError):
    """The server closed the connection before the announced size (retried)."""


@contextlib.contextmanager
def _lock(destination: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` beside ``destination`` (POSIX ``flock``), so two
    processes downloading the same file take turns; a no-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock_path = destination.with_name(f".{destination.name}.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            # Removed before it is released: a process that opened this file meanwhile gets
            # the lock and finds the finished download. Correctness never rests on the lock
            # (each download writes its own temporary file and renames a checked one).
            with contextlib.suppress(OSError):
                lock_path.unlink()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _open_source(url: str, timeout: float) -> tuple[BinaryIO, int | None, str]:
    """The response stream, its announced size (or None) and its content type."""
    request = urllib.request.Request(url, headers={"User-Agent": "rainkit"})
    response = urllib.request.urlopen(request, timeout=timeout)
    length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
    kind = (response.headers.get("Content-Type") or "") if hasattr(response, "headers") else ""
    return response, (int(length) if length and length.isdigit() else None), kind.lower()


def _stream(url: str, tmp: Path, *, what: str, label: str, timeout: float, progress: bool
            ) -> str:
    """Copy ``url`` into ``tmp``; the SHA-256 of what was written. ``label`` names the
    progress bar (the final file's name, not the temporary one's)."""
    digest = hashlib.sha256()
    response, size, kind = _open_source(url, timeout)
    bar = None
    try:
        first = response.read(_CHUNK)
        if "text/html" in kind or first.lstrip()[:15].lower().startswith((b"<!doctype html",
                                                                           b"<html")):
            raise ValueError(
                f"{what}: {url} served an HTML page, not the file (Google Drive and other hosts "
                "answer large files with a confirmation page): download it in a browser and "
                "pass the file's path instead of the URL")
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=label or "download",
                       file=sys.stderr, leave=False)
        written = 0
        with open(tmp, "wb") as handle:  # overwritten on a retry
            chunk = first
            while chunk:
                handle.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                chunk = response.read(_CHUNK)
            handle.flush()
            os.fsync(handle.fileno())
        if size is not None and written != size:
            raise _Incomplete(f"the connection closed after {written:,} of {size:,} bytes")
    finally:
        response.close()
        if bar is not None:
            bar.close()
    return digest.hexdigest()


def download_file(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str | None,
    *,
    what: str,
    progress: bool = False,
    overwrite: bool = False,
    timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``destination`` safely; only called on request.

    The file streams to a hidden temporary file beside ``destination`` and is renamed over it
    only when it is complete (the announced size) and its SHA-256 matches: an interrupted,
    concurrent or failed download never leaves a wrong or half-written file under the final
    name, and the temporary file is removed on every failure (``Ctrl-C`` included). Two
    processes downloading the same file take turns (a lock file beside it); the second finds
    the first one's file and checks it. Server errors, timeouts and cut connections are
    retried after :data:`RETRY_DELAYS`; a 404, an HTML page instead of the file, a wrong hash
    or a full disk are not, and say so.

    Args:
        url: the source: ``https://``, ``http://``, ``file://``, or a plain path of a local copy.
        destination: the final path.
        sha256: the expected hexadecimal digest (or torchvision's prefix of it, 8 digits or
            more), or ``None`` for a file with no published hash (the caller checks it).
        what: what the file holds, for messages.
        progress: show a progress bar on stderr.
        overwrite: replace an existing file at ``destination`` (else an existing file with the
            right hash is kept and returned, and one with a wrong hash is an error).
        timeout: seconds to wait for the server on each try.
        sleep: how to wait between retries (tests pass a no-op).

    Returns:
        ``destination`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: the file has another SHA-256 (nothing was kept), or the server sent a web
            page.
        OSError: the download failed after the retries, the URL does not exist (404), or the
            disk is full; the message names the URL and says that nothing was kept.
    """
    destination = Path(destination)
    source = os.fspath(url)
    if "://" not in source:
        local = Path(source).expanduser()
        if not local.is_file():
            raise FileNotFoundError(f"{what}: no file at {source!r}")
        source = local.resolve().as_uri()
    if destination.is_file() and not overwrite:
        if sha256 is not None:
            verify_sha256(destination, sha256, what=what,
                          hint="It was there before this call (nothing was downloaded): "
                               "delete it, or download again with overwrite (--force).")
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _lock(destination):
        if destination.is_file() and not overwrite and sha256 is not None:
            # another process finished the same download while this one waited
            verify_sha256(destination, sha256, what=what)
            return destination
        with atomic_path(destination) as tmp:  # renamed only when the body succeeds
            for attempt, delay in enumerate((*RETRY_DELAYS, None)):
                try:
                    actual = _stream(source, tmp, what=what, label=destination.name,
                                     timeout=timeout, progress=progress)
                    break
                except urllib.error.HTTPError as err:
                    if err.code < 500 or delay is None:
                        missing = " (no such file on the server)" if err.code == 404 else ""
                        raise OSError(f"{what}: download of {source} failed: HTTP {err.code} "
                                      f"{err.reason}{missing}; nothing was kept") from None
                except OSError as err:
                    if err.errno == errno.ENOSPC:
                        raise OSError(errno.ENOSPC,
                                      f"{what}: no space left on the device while writing "
                                      f"{str(destination)!r} from {source}; nothing was kept. "
                                      "Free some space, or set TORCH_HOME to another "
                                      "disk") from None
                    if delay is None or (isinstance(err, urllib.error.URLError) and \
                            source.startswith("file:")):
                        raise OSError(f"{what}: download of {source} failed after "
                                      f"{attempt + 1} tries: {err}; nothing was kept. Without "
                                      "network access here, download it elsewhere and give "
                                      "the file's path instead of the URL ('rainkit download "
                                      "NAME --url FILE', or url= in Python)") from None
                sleep(delay)
            if sha256 is not None and not _matches(actual, sha256):
                raise ValueError(
                    f"{what}: the file downloaded from {source} has SHA-256 {actual}, expected "
                    f"{sha256.lower()}; it was not kept (a wrong or damaged file; try again, or "
                    "another mirror)")
    return destination


"""Private helpers for weight files: the torch hub cache, SHA-256 checks and opt-in downloads.

Every pretrained file rainkit reads (torchvision's VGG19 and AlexNet, published deraining
checkpoints) is resolved here, so the messages that say where a missing file belongs, and the
hash check, are written once. Nothing here downloads unless :func:`download_file` is called.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

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


def verify_sha256(
    path: str | os.PathLike[str], expected: str, *, what: str, hint: str = ""
) -> None:
    """Raise :class:`ValueError` unless the file's SHA-256 equals ``expected``.

    The message names the file, both digests and what to do (download the file again), then
    ``hint`` (for example the download command).
    """
    actual = sha256_file(path)
    if actual != expected.lower():
        extra = f" {hint}" if hint else ""
        raise ValueError(
            f"{what}: {os.fspath(path)!r} has SHA-256 {actual}, expected {expected.lower()}; "
            "the file is damaged, truncated or a different file. Delete it and download it "
            f"again.{extra}"
        )


def download_file(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str,
    *,
    what: str,
    progress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Download ``url`` to ``destination`` and check its SHA-256; only called on request.

    The file is written to a temporary name beside ``destination`` and renamed only after the
    hash matched, so a failed or interrupted download never leaves a wrong file under the final
    name. ``file://`` URLs work (used by the tests, which never touch the network).

    Args:
        url: the source (``https://``, ``http://`` or ``file://``).
        destination: the final path.
        sha256: the expected hexadecimal digest.
        what: what the file holds, for messages.
        progress: show a progress bar on stderr.
        overwrite: replace an existing file at ``destination`` (else an existing file with the
            right hash is kept and returned, and one with a wrong hash is an error).

    Returns:
        ``destination`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: the downloaded file (or an existing one) has another SHA-256.
        OSError: the download failed; the message names the URL.
    """
    destination = Path(destination)
    if destination.is_file() and not overwrite:
        verify_sha256(destination, sha256, what=what)
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    try:
        try:
            torch.hub.download_url_to_file(url, os.fspath(tmp), hash_prefix=None,
                                           progress=progress)
        except (OSError, ValueError) as err:
            raise OSError(f"{what}: download of {url} failed: {err}") from err
        verify_sha256(tmp, sha256, what=f"{what} downloaded from {url}")
        os.replace(tmp, destination)
    finally:
        if tmp.exists():
            tmp.unlink()
    return destination

"""The rainkit checkpoint file: its format, checksum, atomic write and verified read.

The layer under :mod:`rainkit.nn` and :mod:`rainkit.checkpoint`: both read checkpoint files
through :func:`load_checkpoint` here, and :mod:`rainkit.checkpoint` (which builds networks, so
imports :mod:`rainkit.nn`) re-exports it. See :mod:`rainkit.checkpoint` for the format.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rainkit._checks import check_device, check_output_path, check_path
from rainkit._files import atomic_write_bytes

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "REQUIRED_KEYS", "atomic_save", "checksum",
           "load_checkpoint"]

CHECKPOINT_FORMAT = "rainkit-checkpoint"
CHECKPOINT_VERSION = 2
#: The keys every rainkit checkpoint dict holds.
REQUIRED_KEYS = ("model_name", "model_kwargs", "model")


def _feed(digest: Any, value: object) -> None:
    """Feed a canonical byte form of ``value`` (nested dicts, lists, tensors, scalars)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to("cpu").contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}|".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        digest.update(f"D{len(items)}|".encode())
        for key, item in items:
            digest.update(f"{key!r}=".encode())
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__[0]}{len(value)}|".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r}|".encode())


def checksum(state: Mapping[str, Any]) -> str:
    """SHA-256 over every value of a checkpoint dict except ``"checksum"`` (canonical form)."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != "checksum"})
    return digest.hexdigest()


def atomic_save(obj: object, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: all or nothing, never a partial file.

    The object is serialised in memory first, then written to a temporary file in the same
    folder, flushed, synced and renamed over ``path``. On any failure (a full disk gives
    ``OSError: [Errno 28] No space left on device``) the temporary file is removed and the
    error propagates; an existing file at ``path`` is untouched.

    Args:
        obj: anything :func:`torch.save` accepts.
        path: the destination; its folder is created if needed.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a path, or ``obj`` cannot be serialised by
            :func:`torch.save` (a lambda, a generator, ...).
        ValueError: ``path`` is empty, a folder, or inside a file.
    """
    path = check_output_path(path, "path")
    buffer = io.BytesIO()
    try:
        torch.save(obj, buffer)
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        raise TypeError(f"obj cannot be saved by torch.save: {err}") from None
    atomic_write_bytes(path, buffer.getbuffer())
    return path


def _read(path: Path, map_location: str | torch.device) -> object:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise ValueError(f"checkpoint must be a file, got the folder {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes): it was cut off while being "
                         "written or is not a checkpoint; use another copy")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for damaged files: name the file instead
        raise ValueError(
            f"checkpoint {path} cannot be read by torch.load(weights_only=True): it is truncated, "
            f"corrupted, not a PyTorch file, or holds objects other than tensors and plain "
            f"values ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from None


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        map_location: where tensors are loaded (``"cpu"`` by default, so a checkpoint saved on
            a GPU loads anywhere).

    Returns:
        The checkpoint dict (see the module docs), ``"training"`` and ``"metadata"`` always
        present (possibly empty).

    Raises:
        TypeError: ``path`` is not a path or ``map_location`` not a device.
        FileNotFoundError: no file at ``path``.
        ValueError: the file is empty, truncated, not a torch file, a plain state dict, misses
            one of the required keys, or fails the checksum (corrupted); the message names the
            file and the problem. Also when ``map_location`` is not a device of this machine.
    """
    path = check_path(path, "path")
    map_location = check_device(map_location, "map_location")
    state = _read(path, map_location)
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, expected a rainkit "
                         "checkpoint dict")
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"{path} is a plain state dict ({len(state)} tensors) without rainkit's metadata: "
            "load it with model.load_state_dict(torch.load(path, weights_only=True)) into the "
            "network it belongs to, or, for a published checkpoint, with "
            "rainkit.nn.load_pretrained(name, path=...)"
        )
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise ValueError(f"checkpoint {path} is not a rainkit checkpoint: it lacks "
                         f"{', '.join(repr(k) for k in missing)} (keys: {sorted(map(str, state))})")
    if state.get("format") == CHECKPOINT_FORMAT:
        stored = state.get("checksum")
        if stored != checksum(state):
            raise ValueError(
                f"checkpoint {path} is corrupted: the SHA-256 of its stored values does not match "
                f"the checksum written with it ({stored}); the file was damaged after it was "
                "saved. Use another copy (e.g. last.pt instead of best.pt)"
            )
    else:  # format 1: examples/train.py before rainkit 0.2, training state at the top level
        training = {k: v for k, v in state.items()
                    if k not in (*REQUIRED_KEYS, "format", "scores", "args")}
        state = {"format": CHECKPOINT_FORMAT, "version": 1,
                 **{k: state[k] for k in REQUIRED_KEYS},
                 "training": training,
                 "metadata": {"scores": state.get("scores", {}), "args": state.get("args", {})}}
    state.setdefault("training", {})
    state.setdefault("metadata", {})
    return state

"""rainkit checkpoints: a network, its constructor arguments and training state, checked on load.

A checkpoint is a ``torch.save`` dict that rebuilds the network by name from
:data:`rainkit.nn.MODELS`, so loading it needs no code from the script that trained it:

=================  ==========================================================================
key                value
=================  ==========================================================================
``format``         ``"rainkit-checkpoint"``
``version``        ``2``
``model_name``     the network's name in :data:`rainkit.nn.MODELS`
``model_kwargs``   the keyword arguments of its constructor (JSON-like values)
``model``          the network's ``state_dict()``
``training``       optional training state (optimizer, scheduler, epoch, ...), any
                   ``weights_only``-loadable values
``metadata``       optional free-form information (scores, settings, rainkit version)
``checksum``       SHA-256 over every stored value except itself, checked on load
=================  ==========================================================================

Files are written atomically (a temporary file in the same folder, flushed and synced, then
renamed), so a crash or a full disk never leaves a half-written checkpoint under the final name,
and loaded with ``torch.load(..., weights_only=True)``, so a checkpoint cannot run code. The
checksum turns silent corruption (a flipped byte in a weight) into a clear error. Checkpoints of
format version 1 (``examples/train.py`` before rainkit 0.2, no checksum) still load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rainkit._validation import check_device, check_mapping, check_output_path, check_path

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "atomic_save",
    "build_from_checkpoint",
    "load_checkpoint",
    "load_model",
    "load_weights_source",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "rainkit-checkpoint"
CHECKPOINT_VERSION = 2
_REQUIRED = ("model_name", "model_kwargs", "model")


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


def _checksum(state: Mapping[str, Any]) -> str:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def _check_json_like(value: object, where: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where} must hold JSON-like values (numbers, strings, lists, dicts), "
                        f"got {value!r}: {err}") from None


def _check_parts(model: object, model_name: object, model_kwargs: object, training: object,
                 metadata: object) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The checks of :func:`save_checkpoint`'s arguments (also run by ``record_epoch`` before it
    writes anything); returns ``model_kwargs``, ``training`` and ``metadata`` as dicts."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty str, got {model_name!r}")
    kwargs = check_mapping(model_kwargs, "model_kwargs", optional=True)
    keys = [key for key in kwargs if not isinstance(key, str)]
    if keys:
        raise TypeError(f"model_kwargs must have str keys (keyword argument names), got {keys}")
    _check_json_like(kwargs, "model_kwargs")
    return (kwargs, check_mapping(training, "training", optional=True),
            check_mapping(metadata, "metadata", optional=True))


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    model_name: str,
    model_kwargs: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` with what rebuilds it, and optional training state, atomically.

    Args:
        path: the checkpoint file (conventionally ``*.pt``).
        model: the network; its ``state_dict()`` is stored (a DDP or compiled wrapper should be
            unwrapped first).
        model_name: its name in :data:`rainkit.nn.MODELS` (see :func:`rainkit.nn.register_model`
            for your own networks).
        model_kwargs: the constructor's keyword arguments (JSON-like values).
        training: optimizer, scheduler and loop state for resuming (tensors, numbers, strings,
            lists and dicts only, as ``weights_only`` loading allows).
        metadata: free-form information such as scores and settings (same value types).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a path, ``model`` is not an :class:`~torch.nn.Module`,
            ``model_kwargs``, ``training`` or ``metadata`` is not a mapping (or ``None``), or
            ``model_kwargs`` holds keys that are not strings or values that are not JSON-like.
        ValueError: ``path`` is empty, a folder or inside a file, or ``model`` holds non-finite
            weights (a diverged run must not overwrite a good checkpoint).

    Example:
        >>> import tempfile, pathlib
        >>> from rainkit.checkpoint import load_model, save_checkpoint
        >>> from rainkit.nn import UNet
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> path = save_checkpoint(folder / "unet.pt", UNet(base_channels=8),
        ...                        model_name="unet", model_kwargs={"base_channels": 8})
        >>> load_model(path).base_channels
        8
    """
    path = check_output_path(path, "path")
    kwargs, training, metadata = _check_parts(model, model_name, model_kwargs, training, metadata)
    weights = model.state_dict()
    bad = [name for name, t in weights.items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(f"model holds non-finite weights (NaN or inf in {', '.join(bad[:5])}"
                         f"{' ...' if len(bad) > 5 else ''}): refusing to save a checkpoint")
    state: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_name": model_name,
        "model_kwargs": kwargs,
        "model": weights,
        "training": training,
        "metadata": metadata,
    }
    state["checksum"] = _checksum(state)
    return atomic_save(state, path)


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
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise ValueError(f"checkpoint {path} is not a rainkit checkpoint: it lacks "
                         f"{', '.join(repr(k) for k in missing)} (keys: {sorted(map(str, state))})")
    if state.get("format") == CHECKPOINT_FORMAT:
        stored = state.get("checksum")
        if stored != _checksum(state):
            raise ValueError(
                f"checkpoint {path} is corrupted: the SHA-256 of its stored values does not match "
                f"the checksum written with it ({stored}); the file was damaged after it was "
                "saved. Use another copy (e.g. last.pt instead of best.pt)"
            )
    else:  # format 1: examples/train.py before rainkit 0.2, training state at the top level
        training = {k: v for k, v in state.items()
                    if k not in (*_REQUIRED, "format", "scores", "args")}
        state = {"format": CHECKPOINT_FORMAT, "version": 1,
                 **{k: state[k] for k in _REQUIRED},
                 "training": training,
                 "metadata": {"scores": state.get("scores", {}), "args": state.get("args", {})}}
    state.setdefault("training", {})
    state.setdefault("metadata", {})
    return state


def build_from_checkpoint(
    checkpoint: Mapping[str, Any], *, source: str | os.PathLike[str] = "checkpoint"
) -> nn.Module:
    """Build the network a checkpoint dict describes and load its weights strictly.

    Args:
        checkpoint: a dict from :func:`load_checkpoint`.
        source: where it came from, for messages.

    Returns:
        The network in training mode (call ``.eval()`` for inference).

    Raises:
        TypeError: ``checkpoint`` is not a mapping or ``source`` not a path.
        ValueError: ``checkpoint`` lacks a required key or holds a value of the wrong type, the
            network name is not in :data:`rainkit.nn.MODELS` (register your own with
            :func:`rainkit.nn.register_model` first), its arguments are rejected, the weights
            do not fit, or a weight is not finite.
    """
    from rainkit.nn.registry import MODELS

    checkpoint = check_mapping(checkpoint, "checkpoint")
    source = os.fspath(check_path(source, "source"))
    missing = [key for key in _REQUIRED if key not in checkpoint]
    if missing:
        raise ValueError(f"checkpoint lacks {', '.join(repr(k) for k in missing)}: it is not a "
                         f"dict from load_checkpoint (keys: {sorted(map(str, checkpoint))})")
    for key, kind in (("model_name", str), ("model_kwargs", Mapping), ("model", Mapping)):
        if not isinstance(checkpoint[key], kind):
            raise ValueError(f"checkpoint[{key!r}] must be a {kind.__name__}, got "
                             f"{type(checkpoint[key]).__name__} ({source})")
    name, kwargs = checkpoint["model_name"], dict(checkpoint["model_kwargs"])
    if name not in MODELS:
        raise ValueError(
            f"{source} holds a {name!r} network, which is not in rainkit.nn.MODELS "
            f"({', '.join(sorted(MODELS))}); if it is your own network, call "
            f"rainkit.nn.register_model({name!r}, YourClass) before loading"
        )
    try:
        model = MODELS[name](**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: {name}(**{kwargs}) failed: {err}") from None
    try:
        model.load_state_dict(checkpoint["model"], strict=True)
    except RuntimeError as err:
        raise ValueError(f"{source}: the stored weights do not fit a {name!r} network with "
                         f"arguments {kwargs}:\n{err}") from None
    bad = [n for n, t in model.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(f"{source} holds non-finite weights (NaN or inf in "
                         f"{', '.join(bad[:5])}): the run that wrote it had diverged")
    return model


def load_model(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Load the network of a rainkit checkpoint, in eval mode, weights loaded strictly.

    Args:
        path: a file written by :func:`save_checkpoint` (or ``examples/train.py``).
        map_location: where the weights are loaded.

    Returns:
        The network, in eval mode.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: see :func:`load_checkpoint` and :func:`build_from_checkpoint`.
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    return build_from_checkpoint(checkpoint, source=os.fspath(path)).eval()


def load_weights_source(
    spec: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, str, dict[str, Any]]:
    """Load a network from a published checkpoint name or a rainkit checkpoint file.

    A ``str`` that is a key of :data:`rainkit.nn.PRETRAINED` (``"prenet-rain100h"``) is loaded
    with :func:`rainkit.nn.load_pretrained` (from the torch hub cache; nothing is downloaded);
    anything else is the path of a file written by :func:`save_checkpoint`. A file whose name is
    also a published name is reached as a path such as ``./prenet-rain100h``. This is how
    ``rainkit derain``, ``rainkit evaluate`` and ``examples/train.py --init_from`` read a
    network.

    Args:
        spec: a published checkpoint name or a checkpoint path.
        map_location: where the weights are loaded.

    Returns:
        ``(network, model_name, model_kwargs)``: the network in eval mode, its name in
        :data:`rainkit.nn.MODELS` and its constructor arguments, which is what
        :func:`save_checkpoint` needs to store a fine-tuned copy.

    Raises:
        TypeError: ``spec`` is neither a str nor a path.
        FileNotFoundError: ``spec`` is not a published name and no file is there (the message
            lists the published names), or the published file is not in the cache (the message
            says how to download it).
        ValueError: the file is not a valid checkpoint; see :func:`load_checkpoint`,
            :func:`build_from_checkpoint` and :func:`rainkit.nn.load_pretrained`.

    Example:
        >>> import tempfile
        >>> from rainkit.nn import build_model
        >>> path = save_checkpoint(f"{tempfile.mkdtemp()}/net.pt",
        ...                        build_model("baseline", channels=4, num_blocks=1),
        ...                        model_name="baseline",
        ...                        model_kwargs={"channels": 4, "num_blocks": 1})
        >>> model, name, kwargs = load_weights_source(path)
        >>> name, kwargs, model.training
        ('baseline', {'channels': 4, 'num_blocks': 1}, False)
        >>> load_weights_source("no-such-net")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: no-such-net: no such file, and not a published checkpoint (...)
    """
    import rainkit.nn

    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be a published checkpoint name or a path, got "
                        f"{type(spec).__name__} {spec!r}")
    check_device(map_location, "map_location")
    published = getattr(rainkit.nn, "PRETRAINED", {})  # the table arrives with rainkit 0.2
    if isinstance(spec, str) and spec in published:
        entry = published[spec]
        model = rainkit.nn.load_pretrained(spec, map_location=map_location)
        return model.eval(), entry.model, dict(entry.model_kwargs)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"{spec}: no such file, and not a published checkpoint "
            f"({', '.join(sorted(published)) or 'none known'})"
        )
    checkpoint = load_checkpoint(path, map_location=map_location)
    model = build_from_checkpoint(checkpoint, source=os.fspath(path))
    return model.eval(), checkpoint["model_name"], dict(checkpoint["model_kwargs"])

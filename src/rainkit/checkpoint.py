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

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rainkit._checkpoint_file import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    REQUIRED_KEYS,
    atomic_save,
    checksum,
    load_checkpoint,
)
from rainkit._checks import check_device, check_mapping, check_output_path, check_path
from rainkit._files import atomic_write_bytes
from rainkit.nn.loading import (
    SAFETENSORS_FORMAT,
    load_network,
    load_state_strict,
    non_finite_weights,
)
from rainkit.nn.registry import MODELS

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "atomic_save",
    "build_from_checkpoint",
    "export_safetensors",
    "load_checkpoint",
    "load_model",
    "load_weights_source",
    "prepare_checkpoint",
    "save_checkpoint",
    "write_checkpoint",
]



def _check_json_like(value: object, where: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where} must hold JSON-like values (numbers, strings, lists, dicts), "
                        f"got {value!r}: {err}") from None


def _check_parts(
    model: object, model_name: object, model_kwargs: object, training: object, metadata: object
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The checks of :func:`prepare_checkpoint`'s arguments; returns ``model_kwargs``,
    ``training`` and ``metadata`` as dicts."""
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


def prepare_checkpoint(
    model: nn.Module,
    *,
    model_name: str,
    model_kwargs: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint dict of ``model``, every argument checked, ready for
    :func:`write_checkpoint`.

    :func:`save_checkpoint` is this followed by :func:`write_checkpoint`. Call the two apart
    to check everything before a group of files is written, or to write one network to
    several files with one check and one scan of its weights (``record_epoch`` writes
    ``best.pt`` and ``last.pt`` from one prepared dict, with ``training`` emptied for
    ``best.pt``).

    Args:
        model: the network; its ``state_dict()`` is stored (unwrap a DDP or compiled wrapper
            first). The dict holds references to its tensors: write it before the next
            optimiser step.
        model_name: its name in :data:`rainkit.nn.MODELS`.
        model_kwargs: the constructor's keyword arguments (JSON-like values).
        training: optimizer, scheduler and loop state for resuming.
        metadata: free-form information such as scores and settings.

    Returns:
        A dict with the keys of the module's table except ``checksum``, which
        :func:`write_checkpoint` adds.

    Raises:
        TypeError: as :func:`save_checkpoint`.
        ValueError: ``model`` holds non-finite weights.

    Example:
        >>> prepared = prepare_checkpoint(torch.nn.Conv2d(3, 3, 1), model_name="conv")
        >>> sorted(prepared)
        ['format', 'metadata', 'model', 'model_kwargs', 'model_name', 'training', 'version']
    """
    kwargs, training, metadata = _check_parts(model, model_name, model_kwargs, training,
                                              metadata)
    weights = model.state_dict()
    bad = non_finite_weights(weights)
    if bad:
        raise ValueError(f"model holds non-finite weights (NaN or inf in {', '.join(bad[:5])}"
                         f"{' ...' if len(bad) > 5 else ''}): refusing to save a checkpoint")
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_name": model_name,
        "model_kwargs": kwargs,
        "model": weights,
        "training": training,
        "metadata": metadata,
    }


def write_checkpoint(path: str | os.PathLike[str], prepared: Mapping[str, Any]) -> Path:
    """Write a dict from :func:`prepare_checkpoint` atomically, with its checksum.

    Args:
        path: the checkpoint file (conventionally ``*.pt``).
        prepared: the dict :func:`prepare_checkpoint` returned, possibly with ``training`` or
            ``metadata`` replaced by other mappings.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a path or ``prepared`` is not a mapping.
        ValueError: ``path`` is empty, a folder or inside a file, or ``prepared`` is not a
            prepared checkpoint (another format or version, a key missing or added, or
            ``training``/``metadata`` not a mapping).

    Example:
        >>> import tempfile, pathlib
        >>> prepared = prepare_checkpoint(torch.nn.Conv2d(3, 3, 1), model_name="conv")
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_checkpoint(folder / "a.pt", prepared).name
        'a.pt'
    """
    path = check_output_path(path, "path")
    prepared = check_mapping(prepared, "prepared")
    expected = {"format", "version", *REQUIRED_KEYS, "training", "metadata"}
    if (set(prepared) != expected or prepared["format"] != CHECKPOINT_FORMAT
            or prepared["version"] != CHECKPOINT_VERSION):
        raise ValueError(f"prepared must be a dict from prepare_checkpoint (keys "
                         f"{sorted(expected)}, format {CHECKPOINT_FORMAT!r} version "
                         f"{CHECKPOINT_VERSION}), got keys {sorted(map(str, prepared))}")
    for key in ("training", "metadata"):
        if not isinstance(prepared[key], Mapping):
            raise ValueError(f"prepared[{key!r}] must be a mapping, got "
                             f"{type(prepared[key]).__name__}")
    state = dict(prepared)
    state["checksum"] = checksum(state)
    return atomic_save(state, path)


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

    The same as :func:`prepare_checkpoint` then :func:`write_checkpoint`.

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
    return write_checkpoint(path, prepare_checkpoint(
        model, model_name=model_name, model_kwargs=model_kwargs, training=training,
        metadata=metadata))


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
    checkpoint = check_mapping(checkpoint, "checkpoint")
    source = os.fspath(check_path(source, "source"))
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
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
    load_state_strict(model, checkpoint["model"],
                      what=f"{source}: a {name!r} network with arguments {kwargs}")
    bad = non_finite_weights(model.state_dict())
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
    """Load a network from a published checkpoint name or any weight file.

    A thin wrapper of :func:`rainkit.nn.load_network` (the one loading path): a key of
    :data:`rainkit.nn.PRETRAINED` (``"prenet-rain100h"``) is read from the torch hub cache
    (nothing is downloaded); a file is a rainkit checkpoint, a ``.safetensors`` export or an
    authors' checkpoint, recognised by its SHA-256 or its keys and shapes. A file whose name is
    also a published name is reached as a path such as ``./prenet-rain100h``. This is how
    ``rainkit derain``, ``rainkit evaluate`` and ``examples/train.py --init_from`` read a
    network.

    Args:
        spec: a published checkpoint name or a file.
        map_location: where the weights are loaded.

    Returns:
        ``(network, model_name, model_kwargs)``: the network in eval mode, its name in
        :data:`rainkit.nn.MODELS` and its constructor arguments, which is what
        :func:`save_checkpoint` needs to store a fine-tuned copy.

    Raises:
        TypeError: ``spec`` is neither a str nor a path.
        FileNotFoundError: ``spec`` is not a published name and no file is there, or the
            published file is not in the cache (the message says how to download it).
        ValueError: the file is not a valid checkpoint; see :func:`load_checkpoint` and
            :func:`rainkit.nn.load_pretrained`.

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
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be a published checkpoint name or a path, got "
                        f"{type(spec).__name__} {spec!r}")
    check_device(map_location, "map_location")
    loaded = load_network(spec, map_location=map_location)
    return loaded.model, loaded.model_name, loaded.model_kwargs


def export_safetensors(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Export a network's weights to a ``.safetensors`` file that rebuilds it, atomically.

    safetensors is the format model hubs expect: loading it runs no code. The file holds the
    network's ``state_dict()`` and, in its metadata, ``format = "rainkit-safetensors"``, the
    network's name in :data:`rainkit.nn.MODELS`, its constructor arguments (JSON) and, for a
    published checkpoint, its name and the SHA-256 of the authors' file.
    :func:`rainkit.nn.load_pretrained` (and ``rainkit derain``) load it back by path.

    Args:
        source: anything :func:`rainkit.nn.load_pretrained` takes: a rainkit checkpoint, a
            published name, an authors' file.
        path: the ``.safetensors`` file to write.
        overwrite: replace an existing file (else that is an error: nothing you own is
            overwritten without asking).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``path`` does not end in ``.safetensors``, or exists and ``overwrite`` is
            false; see :func:`rainkit.nn.load_pretrained` for the source.

    Example:
        >>> import tempfile
        >>> from rainkit.nn import build_model, load_pretrained
        >>> folder = tempfile.mkdtemp()
        >>> checkpoint = save_checkpoint(f"{folder}/unet.pt", build_model("unet", base_channels=4),
        ...                              model_name="unet", model_kwargs={"base_channels": 4})
        >>> out = export_safetensors(checkpoint, f"{folder}/unet.safetensors")
        >>> load_pretrained(out).base_channels
        4
    """
    from safetensors.torch import save as safetensors_bytes

    target = check_output_path(path, "path")
    if target.suffix != ".safetensors":
        raise ValueError(f"path must end in .safetensors, got {str(target)!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {type(overwrite).__name__}")
    if target.exists() and not overwrite:
        raise ValueError(f"{str(target)!r} exists; pass overwrite=True to replace it")
    loaded = load_network(source)
    metadata = {"format": SAFETENSORS_FORMAT, "model_name": loaded.model_name,
                "model_kwargs": json.dumps(loaded.model_kwargs, sort_keys=True)}
    if loaded.entry is not None:
        metadata["published_name"] = loaded.entry.name
        metadata["published_sha256"] = loaded.entry.sha256 or ""
    tensors = {k: v.detach().to("cpu").contiguous().clone()
               for k, v in loaded.model.state_dict().items()}
    atomic_write_bytes(target, safetensors_bytes(tensors, metadata=metadata))
    return target

"""One loading path for networks with weights: a published name, an authors' file, a rainkit
checkpoint or a ``.safetensors`` file.

Everything that turns a weight file into a network goes through here, in four steps that each
live in one function:

1. :func:`read_weights` reads any file (``torch.load(..., weights_only=True)`` or
   safetensors), unwraps the authors' containers (``params``, ``params_ema``, ``state_dict``,
   ``net``, ``model``...) and strips ``module.``/``_orig_mod.`` prefixes, once, for every family.
2. :func:`identify` finds what the file is: a rainkit checkpoint or safetensors export names its
   network; an authors' file is found by SHA-256 in :data:`~rainkit.nn.PRETRAINED`, else by its
   keys and shapes (as spandrel does), else an error names the closest configurations and what
   differs.
3. The entry's own ``convert`` maps the authors' keys to rainkit's.
4. :func:`load_state_strict` loads every tensor strictly, with one message that says what
   differs.

:func:`load_pretrained` runs them for a published name or a file. Nothing is downloaded here
except by :func:`download_pretrained`.
"""

from __future__ import annotations

import difflib
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rainkit._checkpoint_file import REQUIRED_KEYS, load_checkpoint
from rainkit._checks import check_device, check_mapping
from rainkit._files import atomic_path, atomic_write_bytes
from rainkit._hub import (
    download_file,
    hub_checkpoint_dir,
    resolve_weights_file,
    sha256_file,
    verify_sha256,
)
from rainkit.nn.registry import (
    FAMILIES,
    MODELS,
    PRETRAINED,
    PretrainedWeights,
    StateDict,
    build_model,
)

__all__ = [
    "LoadedNetwork",
    "WeightsFile",
    "describe_pretrained",
    "download_pretrained",
    "identify",
    "load_network",
    "load_pretrained",
    "load_state_strict",
    "pin_file",
    "read_weights",
]

#: Keys under which authors' files wrap their state dict, tried in this order.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "net", "model",
                "generator", "network")
#: Prefixes that training wrappers add to every key (DataParallel, torch.compile).
PREFIXES = ("module.", "_orig_mod.")
#: Metadata keys of a rainkit safetensors export.
SAFETENSORS_FORMAT = "rainkit-safetensors"


@dataclass(frozen=True)
class WeightsFile:
    """What :func:`read_weights` found in a file.

    Attributes:
        path: the file.
        sha256: its SHA-256 (hexadecimal).
        state: the tensors, unwrapped and without ``module.`` prefixes.
        kind: ``"rainkit-checkpoint"``, ``"rainkit-safetensors"``, ``"safetensors"`` or
            ``"state-dict"`` (a file of the authors).
        model_name: the network a rainkit file names (``None`` for an authors' file).
        model_kwargs: its constructor arguments (``None`` for an authors' file).
        unwrapped: what was removed: the wrapper key and the prefix, in words.
    """

    path: Path
    sha256: str
    state: StateDict
    kind: str
    model_name: str | None = None
    model_kwargs: dict[str, Any] | None = None
    unwrapped: tuple[str, ...] = ()


@dataclass
class LoadedNetwork:
    """A network with weights and what it is, from :func:`load_network`.

    Attributes:
        model: the network, in eval mode.
        model_name: its name in :data:`~rainkit.nn.MODELS`.
        model_kwargs: its constructor arguments.
        entry: the published checkpoint it is, when known.
        how: how the file was recognised, in words (for messages and ``rainkit derain``).
    """

    model: nn.Module
    model_name: str
    model_kwargs: dict[str, Any]
    entry: PretrainedWeights | None = None
    how: str = ""
    notes: list[str] = field(default_factory=list)


def _fail_read(path: Path, what: str, err: BaseException, redo: str) -> ValueError:
    first = str(err).splitlines()[0] if str(err) else ""
    return ValueError(f"{what}: {str(path)!r} is not a readable weight file (truncated, a web page "
                      f"saved instead of the file, or another kind of file): "
                      f"{type(err).__name__}: {first}.{redo}")


def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head"))


def _unwrap(obj: object, path: Path, what: str) -> tuple[StateDict, tuple[str, ...]]:
    """The state dict inside an authors' container, and what was removed."""
    removed: list[str] = []
    for _ in range(3):  # {"state_dict": {"model": {...}}} at worst
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        removed.append(f"the {inner!r} wrapper")
        obj = obj[inner]
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{what}: {str(path)!r} holds no state dict (a dict of tensors), got "
                         f"{type(obj).__name__}")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    others = sorted(str(k) for k in obj if k not in tensors)
    if not tensors or not all(isinstance(k, str) for k in tensors):
        raise ValueError(f"{what}: {str(path)!r} holds no state dict: its top-level keys are "
                         f"{sorted(map(str, obj))[:10]} (expected tensors, or one of the wrappers "
                         f"{', '.join(WRAPPER_KEYS)})")
    if others:
        raise ValueError(f"{what}: {str(path)!r} mixes tensors with other values ({others[:5]}); "
                         "it is not a state dict")
    state: StateDict = dict(tensors)
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
            removed.append(f"the {prefix!r} prefix")
    return state, tuple(removed)


def read_weights(
    path: str | os.PathLike[str], *, map_location: Any = "cpu", what: str = "weights",
    sha256: str | None = None,
) -> WeightsFile:
    """Read any weight file rainkit knows into a :class:`WeightsFile`: the one reader.

    Pickled files are read with ``torch.load(..., weights_only=True)`` (no code runs), zip or
    legacy format, ``.safetensors`` with :mod:`safetensors`. A rainkit checkpoint is verified
    (its checksum) by :func:`rainkit.checkpoint.load_checkpoint`; an authors' file is unwrapped
    from ``params``/``state_dict``/``net``/... and ``module.`` prefixes are removed.

    Args:
        path: the file.
        map_location: where tensors are loaded: a device (``"cpu"``, the default, reads files
            saved from CUDA tensors, even from ``cuda:1``, on any machine; ``"cuda:0"`` or a
            :class:`torch.device`, which must exist on this machine), or, for a pickled file,
            anything else :func:`torch.load` takes (a mapping of locations, a function, or
            ``None`` for where the tensors were saved).
        what: what the file should hold, for messages.
        sha256: the file's SHA-256 when the caller has just computed it (it is not read a
            second time); ``None`` hashes the file.

    Returns:
        The file's tensors and what it says about itself.

    Raises:
        FileNotFoundError: no file at ``path``.
        TypeError: ``path`` is not a path, or ``map_location`` is none of the forms above.
        ValueError: an empty file, an HTML page, a damaged file, or no state dict inside; or
            ``map_location`` names a device this machine does not have.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    _check_map_location(map_location, safetensors=Path(os.fspath(path)).suffix == ".safetensors")
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what}: no file at {str(path)!r}")
    redo = " Download it again, or check that the path is the weight file."
    if path.stat().st_size == 0:
        raise ValueError(f"{what}: {str(path)!r} is empty (zero bytes).{redo}")
    if _looks_like_html(path):
        raise ValueError(f"{what}: {str(path)!r} is an HTML page, not a weight file (Google "
                         "Drive and others serve a page instead of large files: download the "
                         "file itself from the browser).")
    if sha256 is not None and (not isinstance(sha256, str) or len(sha256) != 64):
        raise TypeError(f"sha256 must be a 64-digit hexadecimal str or None, got {sha256!r}")
    digest = sha256 if sha256 is not None else sha256_file(path)
    if path.suffix == ".safetensors":
        return _read_safetensors(path, digest, map_location, what)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except RuntimeError as err:
        if "CUDA" in str(err) and "deserialize" in str(err):
            raise RuntimeError(f"{what}: {str(path)!r} holds CUDA tensors and this machine has "
                               "no CUDA; pass map_location='cpu' (the default).") from err
        raise _fail_read(path, what, err, redo) from err
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError,
            AttributeError, TypeError) as err:
        raise _fail_read(path, what, err, redo) from err
    if isinstance(obj, Mapping) and set(REQUIRED_KEYS) <= set(obj):
        checkpoint = load_checkpoint(path, map_location=map_location)
        return WeightsFile(path, digest, dict(checkpoint["model"]), "rainkit-checkpoint",
                           str(checkpoint["model_name"]), dict(checkpoint["model_kwargs"]))
    state, removed = _unwrap(obj, path, what)
    return WeightsFile(path, digest, state, "state-dict", unwrapped=removed)


def _check_map_location(map_location: object, *, safetensors: bool) -> None:
    """Refuse a ``map_location`` that :func:`torch.load` would fail on after reading the file:
    a device this machine lacks (``"cuda:99"``, ``"cuda"`` without CUDA) or a wrong type."""
    if isinstance(map_location, (str, torch.device)):
        check_device(map_location, "map_location")
        return
    if safetensors and map_location is not None:
        raise TypeError(f"map_location must be a device such as 'cpu' or 'cuda:0' (a str or a "
                        f"torch.device) for a .safetensors file, got "
                        f"{type(map_location).__name__} {map_location!r:.80}")
    if map_location is None or callable(map_location) or isinstance(map_location, Mapping):
        return
    raise TypeError(f"map_location must be a device such as 'cpu' or 'cuda:0' (a str or a "
                    f"torch.device), a mapping of locations, a function or None, as "
                    f"torch.load takes, got {type(map_location).__name__} {map_location!r:.80}")


def _read_safetensors(path: Path, digest: str, map_location: Any, what: str) -> WeightsFile:
    from safetensors import SafetensorError, safe_open

    device = str(map_location) if map_location is not None else "cpu"
    try:
        with safe_open(os.fspath(path), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise _fail_read(path, what, err, " Check that the file is complete.") from err
    if metadata.get("format") == SAFETENSORS_FORMAT:
        try:
            kwargs = json.loads(metadata.get("model_kwargs", "{}"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{what}: {str(path)!r} has damaged rainkit metadata: {err}") from None
        return WeightsFile(path, digest, state, "rainkit-safetensors",
                           metadata.get("model_name"), kwargs)
    state, removed = _unwrap(state, path, what)
    return WeightsFile(path, digest, state, "safetensors", unwrapped=removed)


def _shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def describe_mismatch(expected: Mapping[str, tuple[int, ...]],
                      found: Mapping[str, tuple[int, ...]], limit: int = 6) -> str:
    """What differs between a network's keys and shapes and a file's, in one sentence.

    Example:
        >>> describe_mismatch({"a": (1,), "b": (2, 2)}, {"a": (3,), "c": (1,)})
        "missing keys ['b']; unexpected keys ['c']; shapes differ: a: file (3,), network (1,)"
    """
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(f"{k}: file {found[k]}, network {v}" for k, v in expected.items()
                    if k in found and tuple(found[k]) != tuple(v))

    def cut(items: list[str]) -> str:
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return f"{items[:limit]}{more}"

    parts = []
    if missing:
        parts.append(f"missing keys {cut(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {cut(unexpected)}")
    if shapes:
        parts.append(f"shapes differ: {', '.join(shapes[:limit])}"
                     + (f" and {len(shapes) - limit} more" if len(shapes) > limit else ""))
    return "; ".join(parts) or "nothing differs"


def non_finite_weights(state: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors of ``state`` that hold a NaN or an infinity
    (a diverged run's weights), in order."""
    return [name for name, t in state.items()
            if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def load_state_strict(net: nn.Module, state: Mapping[str, torch.Tensor], *, what: str) -> None:
    """``net.load_state_dict(state, strict=True)``, with one message that names what differs.

    Args:
        net: the network to load into.
        state: its state dict: a mapping of str keys to tensors.
        what: what is being loaded, the start of every message (``"weights 'x.pth'"``).

    Raises:
        TypeError: ``net`` is not an :class:`~torch.nn.Module`, ``state`` is not a mapping of
            str keys to tensors, or ``what`` is not a str.
        ValueError: keys or shapes differ; the message lists them.

    Example:
        >>> from torch import nn
        >>> net = nn.Linear(2, 1)
        >>> load_state_strict(net, {"weight": torch.ones(1, 2), "bias": torch.zeros(1)},
        ...                   what="ones")
        >>> load_state_strict(net, {"weight": torch.ones(1, 3)}, what="ones")
        Traceback (most recent call last):
        ...
        ValueError: ones: the weights do not fit the network (missing keys ['bias']; ...
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__} {net!r:.80}")
    if not isinstance(what, str):
        raise TypeError(f"what must be a str, got {type(what).__name__}")
    state = check_mapping(state, "state")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise TypeError(f"state must map str keys to tensors (a state dict), got "
                            f"{type(key).__name__} {key!r:.60} -> {type(value).__name__}")
    expected = _shapes(net.state_dict())
    found = _shapes(state)
    if expected != found:
        raise ValueError(f"{what}: the weights do not fit the network "
                         f"({describe_mismatch(expected, found)}).")
    net.load_state_dict(state, strict=True)


@cache
def _config_shapes(model: str, kwargs_json: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Keys and shapes of a configuration, built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        net = build_model(model, **json.loads(kwargs_json))
    return tuple(sorted(_shapes(net.state_dict()).items()))


def _entry_shapes(entry: PretrainedWeights) -> dict[str, tuple[int, ...]]:
    return dict(_config_shapes(entry.model, json.dumps(dict(entry.model_kwargs), sort_keys=True)))


@dataclass(frozen=True)
class _Identified:
    model: str
    kwargs: dict[str, Any]
    entry: PretrainedWeights | None
    how: str
    state: StateDict


def identify(weights: WeightsFile) -> _Identified:
    """Find the network of a weight file and its state dict in rainkit's keys.

    In order: a rainkit file names its network; an authors' file whose SHA-256 is in
    :data:`~rainkit.nn.PRETRAINED` is that entry; else each family's ``detect`` and each
    published configuration (after its conversion) are compared by keys and shapes, and a
    single match is taken (several matches that differ only in what the file cannot tell,
    such as a stage count, resolve to the first published one, and the message says so).

    Args:
        weights: what :func:`read_weights` returned for the file.

    Raises:
        TypeError: ``weights`` is not a :class:`WeightsFile`.
        ValueError: nothing matches; the message names the closest configurations and what
            differs.
    """
    if not isinstance(weights, WeightsFile):
        raise TypeError(f"weights must be a WeightsFile (what rainkit.nn.read_weights(path) "
                        f"returns), got {type(weights).__name__} {weights!r:.80}")
    if weights.model_name is not None:
        if weights.model_name not in MODELS:
            raise ValueError(
                f"{str(weights.path)!r} holds a {weights.model_name!r} network, which is not in "
                f"rainkit.nn.MODELS; if it is your own network, call "
                f"rainkit.nn.register_model({weights.model_name!r}, YourClass) before loading")
        return _Identified(weights.model_name, dict(weights.model_kwargs or {}), None,
                           f"a {weights.kind} of {weights.model_name!r}", weights.state)
    by_hash = [e for e in PRETRAINED.values() if e.sha256 == weights.sha256]
    if by_hash:
        entry = by_hash[0]
        return _Identified(entry.model, dict(entry.model_kwargs), entry,
                           f"the published checkpoint {entry.name!r} (SHA-256 match)",
                           entry.convert(dict(weights.state)))
    found = _shapes(weights.state)
    matches: list[tuple[PretrainedWeights, StateDict]] = []
    scored: list[tuple[float, str, str]] = []
    seen: set[tuple[str, str]] = set()  # configurations already scored for the message
    for entry in PRETRAINED.values():
        converted = entry.convert(dict(weights.state))
        key = (entry.model, json.dumps(dict(entry.model_kwargs), sort_keys=True))
        expected = _entry_shapes(entry)
        got = _shapes(converted)
        if expected == got:
            matches.append((entry, converted))
        elif key not in seen:
            common = len(set(expected) & set(got))
            scored.append((common / max(len(expected), len(got), 1), entry.name,
                           describe_mismatch(expected, got, limit=3)))
        seen.add(key)
    for family in FAMILIES.values():
        if family.detect is None or matches:
            continue
        detected = family.detect(dict(weights.state))
        if detected is not None:
            model, kwargs = detected
            return _Identified(model, kwargs, None,
                               f"a {family.title} file, configuration read from its keys and "
                               f"shapes: {model}({kwargs})", weights.state)
    if matches:
        entry, converted = matches[0]
        configs = {(e.model, json.dumps(dict(e.model_kwargs), sort_keys=True))
                   for e, _ in matches}
        how = (f"an unpublished file with the keys and shapes of {entry.model}"
               f"({dict(entry.model_kwargs)}) ({entry.family} family)")
        if len(configs) > 1:
            chosen = f"{entry.model}({dict(entry.model_kwargs)})"
            others = sorted({f"{e.model}({dict(e.model_kwargs)})" for e, _ in matches} - {chosen})
            how += (f"; the file cannot tell it from {', '.join(others)}: pass the published "
                    "name whose network it is, load_pretrained(name, path=...), to choose")
        return _Identified(entry.model, dict(entry.model_kwargs), None, how, converted)
    scored.sort(reverse=True)
    closest = "; ".join(f"{name} ({100 * s:.0f}% of keys shared: {diff})"
                        for s, name, diff in scored[:3])
    raise ValueError(f"{str(weights.path)!r} is not a checkpoint of any network rainkit knows "
                     f"(SHA-256 {weights.sha256[:12]}..., {len(found)} tensors). Closest: "
                     f"{closest or 'none'}.")


def pin_file(entry: PretrainedWeights) -> Path:
    """Where the SHA-256 of a checkpoint without a published hash is pinned on first use:
    ``<hub cache>/<name>.sha256``."""
    return hub_checkpoint_dir() / f"{entry.name}.sha256"


def _check_or_pin(entry: PretrainedWeights, weights: WeightsFile) -> str:
    """Trust on first use for files whose authors published no hash; returns what was checked."""
    pin = pin_file(entry)
    if pin.is_file():
        pinned = pin.read_text().strip()
        if pinned != weights.sha256:
            raise ValueError(
                f"{_what(entry)}: {str(weights.path)!r} has SHA-256 {weights.sha256}, but "
                f"{pinned} was pinned in {str(pin)!r} when this checkpoint was first loaded. "
                "If you replaced the file on purpose, delete the pin file; otherwise the file "
                "changed.")
        return f"keys, shapes and the SHA-256 pinned in {str(pin)!r}"
    try:
        atomic_write_bytes(pin, f"{weights.sha256}\n".encode())
    except OSError:
        return "keys and shapes (the hash could not be pinned: the cache is not writable)"
    warnings.warn(
        f"{_what(entry)}: the authors published no SHA-256 for this file, so only its keys and "
        f"shapes were checked (strictly). Its SHA-256 {weights.sha256} is now pinned in "
        f"{str(pin)!r}; later loads check it.", UserWarning, stacklevel=3)
    return "keys and shapes; SHA-256 pinned on first use"


def _what(entry: PretrainedWeights) -> str:
    return f"pretrained weights {entry.name!r} ({entry.model})"


def _entry(name: object) -> PretrainedWeights:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in PRETRAINED:
        close = difflib.get_close_matches(name, list(PRETRAINED), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"{name!r} is not a published checkpoint.{hint} Run `rainkit models` "
                         "for the list.")
    return PRETRAINED[name]


def _hint(entry: PretrainedWeights) -> str:
    if entry.downloadable:
        return f"Download it with `rainkit download {entry.name}`."
    return (f"The authors host it where no script can fetch it: download it from {entry.url} in "
            f"a browser, then run `rainkit download {entry.name} --url FILE` (or pass its "
            "path).")


def load_network(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    map_location: Any = "cpu",
    check_hash: bool = True,
) -> LoadedNetwork:
    """:func:`load_pretrained` with what was loaded: network, name, arguments, entry, how.

    Args and raises: see :func:`load_pretrained`.
    """
    if not isinstance(check_hash, bool):
        raise TypeError(f"check_hash must be a bool, got {type(check_hash).__name__}")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a published checkpoint name or a path, got "
                        f"{type(source).__name__}")
    if isinstance(source, str) and source in PRETRAINED:
        entry = PRETRAINED[source]
        file = resolve_weights_file(entry.file_name, path, what=_what(entry), url=entry.url,
                                    hint=_hint(entry))
        digest = None
        if check_hash and entry.sha256 is not None:
            digest = verify_sha256(file, entry.sha256, what=_what(entry),
                                   hint=f"{_hint(entry)} For a file you fine-tuned yourself "
                                        "from this checkpoint, pass check_hash=False.")
        weights = read_weights(file, map_location=map_location, what=_what(entry), sha256=digest)
        if weights.model_name is not None:  # a rainkit file given for a published name
            if (weights.model_name, weights.model_kwargs) != (entry.model,
                                                              dict(entry.model_kwargs)):
                raise ValueError(
                    f"{_what(entry)}: {str(file)!r} is a {weights.kind} of "
                    f"{weights.model_name!r} with {weights.model_kwargs}, expected "
                    f"{entry.model!r} with {dict(entry.model_kwargs)}.")
            state = weights.state
        else:
            state = entry.convert(dict(weights.state))
        net = entry.build()
        load_state_strict(net, state, what=f"{_what(entry)} from {str(file)!r}")
        checked = "SHA-256" if entry.sha256 and check_hash else "keys and shapes"
        if entry.sha256 is None and check_hash:
            checked = _check_or_pin(entry, weights)
        return LoadedNetwork(net.eval(), entry.model, dict(entry.model_kwargs), entry,
                             f"the published checkpoint {entry.name!r} (checked: {checked})")
    if path is not None:
        raise ValueError(f"path is only for a published name; {source!r} is not one "
                         "(pass the file itself as the first argument)")
    file = Path(os.fspath(source)).expanduser()
    if not file.exists():
        close = difflib.get_close_matches(os.fspath(source), list(PRETRAINED), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise FileNotFoundError(f"{os.fspath(source)}: no such file, and not a published "
                                f"checkpoint (`rainkit models` lists them){hint}")
    weights = read_weights(file, map_location=map_location)
    found = identify(weights)
    try:
        net = build_model(found.model, **found.kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{str(file)!r}: {found.model}(**{found.kwargs}) failed: {err}") from None
    load_state_strict(net, found.state, what=f"{str(file)!r} ({found.how})")
    if weights.kind.startswith("rainkit"):
        bad = non_finite_weights(net.state_dict())
        if bad:
            raise ValueError(f"{str(file)!r} holds non-finite weights (NaN or inf in "
                             f"{', '.join(bad[:5])}): the run that wrote it had diverged")
    return LoadedNetwork(net.eval(), found.model, found.kwargs, found.entry, found.how)


def load_pretrained(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    map_location: Any = "cpu",
    check_hash: bool = True,
) -> nn.Module:
    """Build a network and load weights: a published name, or any weight file you have.

    For a name of :data:`~rainkit.nn.PRETRAINED`, the file is looked up at ``path`` when
    given, else as :attr:`~rainkit.nn.PretrainedWeights.file_name` in the torch hub cache
    (``torch.hub.get_dir()/checkpoints``; ``rainkit download NAME`` puts it there); its
    SHA-256 is checked (for files whose authors published no hash, the hash is pinned on first
    use and checked after), its keys converted by the entry, and every tensor loaded strictly.

    For a file (an authors' checkpoint, a rainkit checkpoint or a ``.safetensors`` file), the
    network is found by :func:`identify`: by the file's own metadata, its SHA-256, or its keys
    and shapes. Nothing is downloaded here.

    Args:
        source: a published name (``"prenet-rain100h"``) or a file.
        path: with a name: an explicit copy of its file (takes precedence over the cache).
        map_location: passed to :func:`torch.load`; ``"cpu"`` reads files saved from CUDA
            tensors on any machine.
        check_hash: verify the SHA-256 of a named file. ``False`` loads a file of the same
            network that you fine-tuned yourself (keys and shapes are still checked).

    Returns:
        The network in eval mode. Its input is RGB in :math:`[0, 1]` whatever the authors'
        code read (channel order and prediction form are the network's business).

    Raises:
        TypeError: ``source`` is neither a str nor a path.
        ValueError: unknown name (close names suggested), wrong hash, an empty, truncated or
            HTML file, or a checkpoint of another network (what differs is named).
        FileNotFoundError: no file; the message names where to get it and where to put it.

    Example:
        >>> from rainkit.nn import PRETRAINED
        >>> entry = PRETRAINED["prenet-rain100h"]
        >>> entry.model, dict(entry.model_kwargs), entry.file_name
        ('prenet', {'stages': 6}, 'prenet-rain100h-127c0098.pth')
        >>> net = load_pretrained("prenet-rain100h")  # doctest: +SKIP
        >>> net = load_pretrained("net_latest.pth")  # doctest: +SKIP
    """
    return load_network(source, path, map_location=map_location, check_hash=check_hash).model


def download_pretrained(
    name: str,
    *,
    url: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Put the checkpoint ``name`` into the hub cache, checking its SHA-256.

    The only function of :mod:`rainkit.nn` that uses the network. The file goes to
    ``directory/file_name`` (default: the torch hub cache, where :func:`load_pretrained`
    looks) under a temporary name first, and is renamed only when its hash is right.

    A file whose authors published no hash (``sha256=None``) is checked instead: every key and
    shape strictly, then its SHA-256 against the one pinned in :func:`pin_file` when it was
    first downloaded or loaded; the first time, the hash is pinned (trust on first use, with a
    :class:`UserWarning` that says so), so a later download or load of other bytes is refused.
    That holds for a direct link (``downloadable=True``) and for a file the authors host where
    no script can fetch it (Google Drive, Baidu): download that one in a browser and pass its
    path as ``url``. A file already in place is checked the same way.

    Args:
        name: a key of :data:`~rainkit.nn.PRETRAINED`.
        url: another source of the same file: a mirror, a ``file://`` URL or a plain path.
        directory: the destination folder (default ``torch.hub.get_dir()/checkpoints``).
        progress: show a progress bar on stderr.
        overwrite: fetch again even when a file with the right hash is there.

    Returns:
        The path of the file.

    Raises:
        ValueError: unknown name, a file with another hash than the published or pinned one,
            or with other keys or shapes (nothing is kept, and a good file already in place
            stays), or a file that cannot be fetched by a script and no ``url`` was given.
        OSError: the download failed; the message names the URL.

    Example:
        >>> path = download_pretrained("prenet-rain100h")  # doctest: +SKIP
    """
    entry = _entry(name)
    folder = hub_checkpoint_dir() if directory is None else Path(os.fspath(directory))
    if url is None and not entry.downloadable:
        raise ValueError(f"{_what(entry)}: {_hint(entry)}")
    source = os.fspath(url) if url is not None else entry.url
    if "://" not in source:
        local = Path(source).expanduser()
        if not local.is_file():
            raise FileNotFoundError(f"{_what(entry)}: no file at {source!r}")
        source = local.resolve().as_uri()
    if entry.sha256 is not None:
        return download_file(source, folder / entry.file_name, entry.sha256, what=_what(entry),
                             progress=progress, overwrite=overwrite)
    destination = folder / entry.file_name
    if destination.is_file() and not overwrite:
        load_network(entry.name, destination)  # strict keys and shapes; checks or pins the hash
        return destination
    # Fetched into a hidden folder beside the destination and checked there (strict keys and
    # shapes, then the pin: checked, or written on first use); only a file that passes is moved
    # to its name, so a refused or interrupted download never replaces or imitates a good file.
    kept = "; the file already there is unchanged" if destination.is_file() else ""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{entry.file_name}.") as staging:
        fetched = download_file(source, Path(staging) / entry.file_name, None,
                                what=_what(entry), progress=progress, overwrite=True)
        try:
            load_network(entry.name, fetched)
        except ValueError as err:
            raise ValueError(f"{err} The file downloaded from {source} was not kept{kept}.") \
                from None
        with atomic_path(destination) as tmp:
            os.replace(fetched, tmp)
    return destination


def describe_pretrained(name: str) -> str:
    """One line about the checkpoint ``name``: network, size, training set, published scores,
    and whether its file is in the hub cache.

    Example:
        >>> print(describe_pretrained("prn_r-rain100h").split(";")[0])
        prn_r-rain100h: prn_r(stages=6), 21,123 parameters
    """
    entry = _entry(name)
    kwargs = ", ".join(f"{k}={v!r}" for k, v in entry.model_kwargs.items())
    scores = ", ".join(
        f"{s.test_set} {s.psnr:.2f} dB / {s.ssim:.3f} ({s.convention}"
        f"{', protocol ' + s.protocol if s.protocol else ''})" for s in entry.published
    ) or "none"
    cached = (hub_checkpoint_dir() / entry.file_name).is_file()
    return (f"{entry.name}: {entry.model}({kwargs}), {entry.num_params:,} parameters; trained on "
            f"{entry.training_set}; published {scores}; "
            f"{'in the hub cache' if cached else 'not downloaded'} ({entry.file_name})")


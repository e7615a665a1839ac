"""The tables of rainkit's networks, families and released checkpoints, filled by registration.

Every network registers itself beside its class with :func:`register_model`, and every family
with released weights registers itself, its checkpoints and its key conversion, in its own home
(:mod:`rainkit.nn.families`) with :func:`register_family`. This module imports no network: the
tables are filled when :mod:`rainkit.nn` imports the families, so adding a family touches only
its home, its docs row and its tests.

=====================  ===================================================================
table                  holds
=====================  ===================================================================
:data:`MODELS`         lowercase name -> network class (``build_model``, ``--model``)
:data:`FAMILIES`       family name -> :class:`Family` (paper, licence, networks, checkpoints)
:data:`PRETRAINED`     checkpoint name -> :class:`PretrainedWeights` (URL, hash, config, scores)
=====================  ===================================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, overload

import torch
from torch import nn

from rainkit.metrics.conventions import CONVENTIONS
from rainkit.nn.base import RainNet

__all__ = [
    "FAMILIES",
    "MODELS",
    "PRETRAINED",
    "Family",
    "PretrainedWeights",
    "PublishedScore",
    "StateDict",
    "build_model",
    "family_of",
    "register_family",
    "register_model",
]

#: A state dict as read from a file: parameter name -> tensor.
StateDict = dict[str, torch.Tensor]

#: Lowercase name of every network to its class.
MODELS: dict[str, type[nn.Module]] = {}

_FAMILIES: dict[str, Family] = {}
_PRETRAINED: dict[str, PretrainedWeights] = {}

#: Every registered family by name (read-only; :func:`register_family` adds to it).
FAMILIES: Mapping[str, Family] = MappingProxyType(_FAMILIES)

#: Every released checkpoint rainkit knows, by name (read-only; filled by the families).
#: Nothing is downloaded until :func:`rainkit.nn.download_pretrained` is called.
PRETRAINED: Mapping[str, PretrainedWeights] = MappingProxyType(_PRETRAINED)

_T = TypeVar("_T", bound=type[nn.Module])


def _check_name(name: object, what: str) -> str:
    if (not isinstance(name, str) or not name or name != name.lower()
            or not all(c.isalnum() or c in "_-" for c in name)):
        raise ValueError(f"{what} must be a lowercase identifier (letters, digits, '_', '-'), "
                         f"got {name!r}")
    return name


@dataclass(frozen=True)
class PublishedScore:
    """A test figure published for a checkpoint, with how it was measured.

    Attributes:
        test_set: the test set as the paper names it (``"Rain100H"``); see
            :mod:`rainkit.data` for its aliases.
        psnr: mean PSNR in dB.
        ssim: mean SSIM (``nan`` when not published).
        convention: the scoring convention, a name of
            :data:`rainkit.metrics.CONVENTIONS` (``"matlab-y"``: PReNet's MATLAB scripts).
        protocol: the benchmark protocol: ``"A"`` (per-dataset training on Rain100L/H,
            Rain1400, Rain12), ``"B"`` (Rain13K mixed training), ``"C"`` (per-dataset training
            on Rain200L/H, DID-Data, DDN-Data, SPA-Data), or ``""`` when none applies.
        source: where the figure is published (paper, table, repository README).
    """

    test_set: str
    psnr: float
    ssim: float
    convention: str
    source: str
    protocol: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in ("", "A", "B", "C"):
            raise ValueError(f"protocol must be one of 'A', 'B', 'C' or '', got {self.protocol!r}")
        if not isinstance(self.convention, str) or self.convention not in CONVENTIONS:
            names = sorted({c.name for c in CONVENTIONS.values()})
            raise ValueError(f"convention must be one of {', '.join(map(repr, names))}, got "
                             f"{self.convention!r}")
        # an old alias ("matlab-y") is stored under its canonical name ("prenet-y")
        object.__setattr__(self, "convention", CONVENTIONS[self.convention].name)


def _identity_conversion(state: StateDict) -> StateDict:
    return state


@dataclass(frozen=True)
class PretrainedWeights:
    """One released checkpoint: the network it belongs to, where to get it, what it scored.

    Attributes:
        name: the table key, ``<model>-<training set>`` (``"prenet-rain100h"``).
        model: the network's name in :data:`MODELS`.
        url: where the file can be downloaded (a direct link), or the page that hosts it.
        sha256: the file's SHA-256 (hexadecimal), or ``None`` when the authors published none:
            then the file is checked strictly by keys and shapes, and its hash is pinned on
            first use (the first download or load) and checked after, whether a script can
            fetch it (a stable release asset) or not (Google Drive, Baidu); see
            :func:`rainkit.nn.download_pretrained` and :func:`rainkit.nn.load_pretrained`.
        training_set: what it was trained on.
        num_params: number of parameters of the network.
        family: the name of its :class:`Family` (set by :func:`register_family`).
        model_kwargs: the constructor arguments of that network for this file.
        convert: the authors' keys to rainkit's, applied after the reader unwrapped the file
            (``params``/``state_dict``/``net`` wrappers, ``module.`` prefixes); identity when
            the authors' keys are rainkit's.
        published: the published test figures.
        downloadable: whether :attr:`url` is a direct link a script can fetch (with or
            without a published hash).
        notes: anything a user must know (provenance, licence, where to get the file).

    The file's name in the torch hub cache is :attr:`file_name`.
    """

    name: str
    model: str
    url: str
    sha256: str | None
    training_set: str
    num_params: int
    family: str = ""
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    convert: Callable[[StateDict], StateDict] = _identity_conversion
    published: tuple[PublishedScore, ...] = ()
    downloadable: bool = True
    notes: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "name")
        if self.sha256 is not None and (
                len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)):
            raise ValueError(f"sha256 must have 64 lowercase hexadecimal digits or be None, got "
                             f"{self.sha256!r}")
        object.__setattr__(self, "model_kwargs", MappingProxyType(dict(self.model_kwargs)))

    @property
    def file_name(self) -> str:
        """The file's name in the hub cache: ``<name>-<sha256[:8]>.pth``, or ``<name>.pth``
        when no hash is published."""
        return f"{self.name}-{self.sha256[:8]}.pth" if self.sha256 else f"{self.name}.pth"

    def build(self, device: torch.device | str | None = None) -> nn.Module:
        """A freshly initialised network of this checkpoint's configuration (no weights read);
        ``device="meta"`` builds it without memory, for its keys and shapes."""
        if device is None:
            return build_model(self.model, **self.model_kwargs)
        with torch.device(device):
            return build_model(self.model, **self.model_kwargs)


@dataclass(frozen=True)
class Family:
    """A family of networks with released weights: one home in :mod:`rainkit.nn.families`.

    Attributes:
        name: lowercase family name (``"prenet"``).
        title: how the paper names it (``"PReNet (Ren et al., CVPR 2019)"``).
        paper: the citation.
        repository: the authors' code (URL and the commit read).
        licence: the licence of the authors' code and weights (rainkit never redistributes
            the files).
        models: the names in :data:`MODELS` of its networks.
        weights: its released checkpoints.
        tiling: how ``rainkit derain --tile`` treats it: ``"exact"`` (a finite receptive field;
            tiles with the measured margin reproduce the whole-image result) or a sentence
            saying why tiles are only approximate (global pooling, whole-row scans).
        input_note: what the authors' code reads and predicts (channel order, value range,
            rain layer or clean image), which the rainkit networks take care of: every rainkit
            network takes RGB in :math:`[0, 1]`.
        detect: optional: the constructor arguments of one of its networks read from a state
            dict's keys and shapes, as ``(model name, kwargs)``, or ``None`` when the state is
            not of this family; used to recognise a file whose hash is unknown.
        test_kwargs: its test settings: for each of its networks, small constructor arguments
            that keep the shape of the architecture (every kind of layer present) for the
            contract, export and fuzz tests, which run every network of :data:`MODELS`.
        training_loss: the paper's training loss where it supervises more than the final
            image: ``loss(outputs, target)`` over the list that the network's
            ``stage_outputs(x)`` returns (MPRNet's three stages, NeRD-Rain's scales);
            ``examples/train.py --loss paper`` uses it. ``None``: the paper trains on the final
            image only.
    """

    name: str
    title: str
    paper: str
    repository: str
    licence: str
    models: tuple[str, ...]
    weights: tuple[PretrainedWeights, ...] = ()
    tiling: str = "exact"
    input_note: str = "RGB in [0, 1]; predicts the rain layer"
    detect: Callable[[StateDict], tuple[str, dict[str, Any]] | None] | None = None
    test_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    training_loss: Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "family name")
        unknown = sorted(set(self.test_kwargs) - set(self.models))
        if unknown:
            raise ValueError(f"family {self.name!r}: test_kwargs for {unknown}, which are not "
                             f"among its networks {self.models}")


@overload
def register_model(name: str, cls: None = None, *, overwrite: bool = False
                   ) -> Callable[[_T], _T]: ...
@overload
def register_model(name: str, cls: _T, *, overwrite: bool = False) -> _T: ...
def register_model(name: str, cls: _T | None = None, *, overwrite: bool = False
                   ) -> _T | Callable[[_T], _T]:
    """Add a network class to :data:`MODELS` under ``name``; usable as a class decorator.

    :func:`build_model`, :func:`rainkit.checkpoint.load_model` and ``examples/train.py --model
    name`` then know it. rainkit's own networks register themselves beside their class with
    ``@register_model("name")``; call it in your own code for yours. The class must derive from
    :class:`~rainkit.nn.RainNet` (the ``forward(x, return_rain=False)`` contract) and take only
    keyword arguments with JSON-like values, so a checkpoint can rebuild it.

    Args:
        name: a lowercase identifier (letters, digits, ``_`` and ``-``).
        cls: the network class; omitted, a decorator is returned.
        overwrite: replace an existing entry of the same name (else that is an error).

    Returns:
        ``cls``, unchanged (or a decorator that registers and returns its class).

    Raises:
        TypeError: ``cls`` is not a :class:`~rainkit.nn.RainNet` subclass.
        ValueError: ``name`` is malformed, or taken and ``overwrite`` is false.

    Example:
        >>> import torch
        >>> from rainkit.nn import MODELS, RainNet, build_model, register_model
        >>> @register_model("tiny")
        ... class Tiny(RainNet):
        ...     def __init__(self, channels: int = 4) -> None:
        ...         super().__init__()
        ...         self.in_channels = 3
        ...         self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        ...     def _separate(self, x):
        ...         rain = self.conv(x)
        ...         return x - rain, rain
        >>> build_model("tiny")(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
        >>> del MODELS["tiny"]
    """
    _check_name(name, "name")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {type(overwrite).__name__}")

    def add(klass: _T) -> _T:
        if not (isinstance(klass, type) and issubclass(klass, RainNet)):
            raise TypeError(f"cls must be a subclass of rainkit.nn.RainNet, got {klass!r}")
        if name in MODELS and MODELS[name] is not klass and not overwrite:
            raise ValueError(f"a network named {name!r} is already registered "
                             f"({MODELS[name].__name__}); pass overwrite=True to replace it")
        MODELS[name] = klass
        return klass

    return add if cls is None else add(cls)


def register_family(family: Family) -> Family:
    """Add a family and its released checkpoints to :data:`FAMILIES` and :data:`PRETRAINED`.

    Called once at the bottom of each family's home, after its networks registered themselves.
    Every checkpoint gets ``family`` set to the family's name (the family that released it; its
    network may be another family's, as for the BRN authors' re-trained PReNet); every network
    it names must be in :data:`MODELS` and take the checkpoint's arguments.

    Args:
        family: the family.

    Returns:
        The family as stored (its checkpoints carry its name).

    Raises:
        TypeError: ``family`` is not a :class:`Family`.
        ValueError: the family or a checkpoint name is taken, a network is not registered, or
            a checkpoint's arguments do not fit its network.
    """
    if not isinstance(family, Family):
        raise TypeError(f"family must be a rainkit.nn.Family, got {type(family).__name__}")
    if family.name in _FAMILIES:
        raise ValueError(f"a family named {family.name!r} is already registered")
    unknown = [m for m in family.models if m not in MODELS]
    if unknown:
        raise ValueError(f"family {family.name!r}: networks {unknown} are not registered; "
                         "decorate their classes with @register_model first")
    weights = []
    for entry in family.weights:
        if entry.model not in MODELS:  # may be another family's network (re-trained by them)
            raise ValueError(f"{entry.name}: network {entry.model!r} is not registered")
        if entry.name in _PRETRAINED:
            raise ValueError(f"a checkpoint named {entry.name!r} is already registered")
        signature = inspect.signature(MODELS[entry.model])
        try:
            signature.bind(**entry.model_kwargs)
        except TypeError as err:
            raise ValueError(f"{entry.name}: {entry.model}(**{dict(entry.model_kwargs)}): "
                             f"{err}") from None
        weights.append(_replace_family(entry, family.name))
    stored = Family(**{**family.__dict__, "weights": tuple(weights)})
    _FAMILIES[family.name] = stored
    for entry in weights:
        _PRETRAINED[entry.name] = entry
    return stored


def _replace_family(entry: PretrainedWeights, family: str) -> PretrainedWeights:
    values = {**entry.__dict__, "family": family, "model_kwargs": dict(entry.model_kwargs)}
    return PretrainedWeights(**values)


def _check_model_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    if name not in MODELS:
        valid = ", ".join(repr(n) for n in sorted(MODELS))
        raise ValueError(f"model name must be one of {valid}, got {name!r}")
    return name


def family_of(name: str) -> Family | None:
    """The family whose home holds the network called ``name``, or ``None`` for a network of
    no family (rainkit's own networks, and those registered by a user's script).

    Args:
        name: a key of :data:`MODELS`.

    Returns:
        The :class:`Family` of :data:`FAMILIES` that lists ``name`` among its networks, or
        ``None``.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not in :data:`MODELS` (the message lists the valid names).

    Example:
        >>> from rainkit.nn import family_of
        >>> family_of("mprnet").name, family_of("unet")
        ('mprnet', None)
    """
    name = _check_model_name(name)
    return next((f for f in _FAMILIES.values() if name in f.models), None)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the network called ``name`` in :data:`MODELS` with keyword arguments ``kwargs``.

    Args:
        name: a key of :data:`MODELS` (``"unet"``, ``"prenet"``, ``"restormer"``, ...).
        **kwargs: the class's keyword arguments; unknown ones are an error that lists the
            accepted ones.

    Returns:
        A freshly initialised network.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is unknown (the message lists the valid names), or an argument
            is not one the class takes.

    Example:
        >>> from rainkit.nn import build_model
        >>> build_model("unet", base_channels=8).base_channels
        8
    """
    cls = MODELS[_check_model_name(name)]
    parameters = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown:
            raise ValueError(f"{cls.__name__} takes no argument {', '.join(map(repr, unknown))}; "
                             f"it takes {', '.join(parameters) or 'no arguments'}")
    return cls(**kwargs)

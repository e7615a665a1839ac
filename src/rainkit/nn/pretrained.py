"""Table of published deraining checkpoints, and loading them into rainkit networks."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn

from rainkit._hub import download_file, hub_checkpoint_dir, resolve_weights_file, verify_sha256
from rainkit.nn.registry import MODELS, build_model

__all__ = [
    "PRETRAINED",
    "PretrainedWeights",
    "PublishedScore",
    "describe_pretrained",
    "download_pretrained",
    "load_pretrained",
]

#: How a checkpoint file is laid out: the PReNet authors' state dicts, or rainkit's own
#: checkpoints (:func:`rainkit.checkpoint.save_checkpoint`: a dict with ``model_name``,
#: ``model_kwargs``, ``model``, checked by :func:`rainkit.checkpoint.load_checkpoint`).
WeightsFormat = Literal["prenet-authors", "rainkit"]
_FORMATS = ("prenet-authors", "rainkit")


@dataclass(frozen=True)
class PublishedScore:
    """A test figure published with a checkpoint.

    Attributes:
        test_set: the test set (``"Rain100H"``: 100 pairs).
        psnr: mean PSNR in dB.
        ssim: mean SSIM.
        convention: how it was scored. ``"matlab-y"``: on the Y channel of MATLAB's
            ``rgb2ycbcr`` (BT.601 limited range, not rounded), whole image, the authors'
            MATLAB ``psnr``/``ssim``; rainkit's ``psnr``/``ssim(..., y_channel=True)`` use the
            same Y.
        source: where the figure is published.
    """

    test_set: str
    psnr: float
    ssim: float
    convention: str
    source: str


@dataclass(frozen=True)
class PretrainedWeights:
    """One published checkpoint: the network it belongs to, where to get it, what it scored.

    Attributes:
        name: the table key (``"prenet-rain100h"``).
        model: the network's name in :data:`rainkit.nn.MODELS`.
        model_kwargs: the constructor arguments of that network for this file.
        url: where the file can be downloaded.
        sha256: the file's SHA-256 (hexadecimal).
        training_set: what it was trained on.
        num_params: number of parameters of the network.
        format: the file layout (``"prenet-authors"`` or ``"rainkit"``), which decides the key
            conversion.
        published: the published test figures.
        notes: anything a user must know (licence, provenance).

    The file's name in the torch hub cache is :attr:`file_name`,
    ``<name>-<first 8 hex digits of sha256>.pth``.
    """

    name: str
    model: str
    url: str
    sha256: str
    training_set: str
    num_params: int
    format: WeightsFormat
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    published: tuple[PublishedScore, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be a key of rainkit.nn.MODELS, got {self.model!r}")
        if self.format not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}, got {self.format!r}")
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 must have 64 hexadecimal digits, got {self.sha256!r}")
        object.__setattr__(self, "model_kwargs", MappingProxyType(dict(self.model_kwargs)))

    @property
    def file_name(self) -> str:
        """The file's name in the hub cache: ``<name>-<sha256[:8]>.pth``."""
        return f"{self.name}-{self.sha256[:8]}.pth"

    def build(self) -> nn.Module:
        """A freshly initialised network of this checkpoint's architecture (no weights read)."""
        return build_model(self.model, **self.model_kwargs)


_AUTHORS = ("Ren et al., CVPR 2019; github.com/csdwren/PReNet README "
            "(commit 6d908d1e3c7ff5c26fee624112297ad1c8603ca7)")
_BASE = "https://github.com/csdwren/PReNet/raw/master/logs/"
_AUTHORS_NOTE = ("Released by the PReNet authors in their repository, which has no licence "
                 "file: rainkit does not ship or redistribute it.")
_TRAIN = {
    "rain100h": "RainTrainH (1,254 pairs: Yang et al.'s 1,800 minus 546 that share a background "
                "with Rain100H)",
    "rain100l": "RainTrainL (200 pairs, Yang et al.)",
    "rain1400": "Rain12600 (900 scenes x 14 rain types, Fu et al.)",
}


def _authors_entry(name: str, model: str, folder: str, sha256: str, num_params: int,
                   score: tuple[str, float, float] | None, **kwargs: Any) -> PretrainedWeights:
    trained_on, url = folder.split("/")[0].lower(), f"{_BASE}{folder}"
    published = ()
    if score is not None:
        published = (PublishedScore(score[0], score[1], score[2], "matlab-y", _AUTHORS),)
    return PretrainedWeights(
        name=name, model=model, url=url, sha256=sha256, num_params=num_params,
        training_set=_TRAIN.get(trained_on, "real rainy images (not stated by the authors)"),
        format="prenet-authors", model_kwargs=kwargs, published=published, notes=_AUTHORS_NOTE,
    )


#: Every published checkpoint rainkit knows, by name. Nothing is downloaded until
#: :func:`download_pretrained` is called.
PRETRAINED: Mapping[str, PretrainedWeights] = MappingProxyType({w.name: w for w in (
    _authors_entry("prenet-rain100h", "prenet", "Rain100H/PReNet6/net_latest.pth",
                   "127c0098787c5272f1f8583f6c5202e7ef674f750cd145a1691912a6d9e96210", 168963,
                   ("Rain100H", 29.46, 0.899), stages=6),
    _authors_entry("prenet_r-rain100h", "prenet_r", "Rain100H/PReNet6_r/net_latest.pth",
                   "ece8127c651cf49026d998fa36857cb9d462c92cf535b640a377fc025f765b5f", 94979,
                   ("Rain100H", 28.98, 0.892), stages=6),
    _authors_entry("prn-rain100h", "prn", "Rain100H/PRN6/net_latest.pth",
                   "f1d56a7df0851eb087652663781d3f34c4c37a4c7ddd9a3f0802abbede1a06c2", 95107,
                   ("Rain100H", 28.07, 0.884), stages=6),
    _authors_entry("prn_r-rain100h", "prn_r", "Rain100H/PRN6_r/net_latest.pth",
                   "99242ce096c9c617bd529a5e189797e8955a4b8611d355974c7c1c64a18b9074", 21123,
                   ("Rain100H", 27.43, 0.874), stages=6),
    _authors_entry("prenet-rain100l", "prenet", "Rain100L/PReNet6/net_latest.pth",
                   "cb9b743bb33cf6e5c56ba45f8ade93add46266dea9fa582e1934dc5eed942333", 168963,
                   ("Rain100L", 37.48, 0.979), stages=6),
    _authors_entry("prn-rain100l", "prn", "Rain100L/PRN6/net_latest.pth",
                   "ed4be5b78f76dcec5c781e1655dee48c2a90b56993de555945d72e31848aea99", 95107,
                   ("Rain100L", 36.99, 0.977), stages=6),
    _authors_entry("prenet-rain1400", "prenet", "Rain1400/PReNet6/net_latest.pth",
                   "d5744dc2e35d73187a3f34936b3413884d293277073ffb78b961a78e65337879", 168963,
                   ("Rain1400", 32.60, 0.946), stages=6),
    _authors_entry("prn-rain1400", "prn", "Rain1400/PRN6/net_latest.pth",
                   "c6620860a51b54afec0c1eebe412f0f1ca00128100f5b23c13758605206a0bf2", 95107,
                   ("Rain1400", 31.69, 0.941), stages=6),
    _authors_entry("prenet_real-1", "prenet_real", "real/PReNet1.pth",
                   "eba0c0ed941565abce9c61ceb8b36ff5e1532320c20efc11843f5f7fc810f7bb", 168963,
                   None, stages=4),
    _authors_entry("prenet_real-2", "prenet_real", "real/PReNet2.pth",
                   "cbf6068474e64bf81ea8597fe1473cda19e7d0afadb3c81beb41f8dcc3751269", 168963,
                   None, stages=4),
)})


def _entry(name: object) -> PretrainedWeights:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in PRETRAINED:
        valid = ", ".join(repr(n) for n in sorted(PRETRAINED))
        raise ValueError(f"pretrained weights name must be one of {valid}, got {name!r}")
    return PRETRAINED[name]


def _what(entry: PretrainedWeights) -> str:
    return f"pretrained weights {entry.name!r} ({entry.model})"


def _read_file(path: Path, entry: PretrainedWeights, map_location: Any) -> Any:
    """``torch.load(path, weights_only=True)``, every failure turned into a message with a fix."""
    redo = f"Download it again with `rainkit download {entry.name}` (or from {entry.url})."
    if path.stat().st_size == 0:
        raise ValueError(f"{_what(entry)}: {str(path)!r} is empty (zero bytes). {redo}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except RuntimeError as err:
        if "CUDA" in str(err) and "deserialize" in str(err):
            raise RuntimeError(
                f"{_what(entry)}: {str(path)!r} holds CUDA tensors and this machine has no "
                "CUDA; pass map_location='cpu' (the default)."
            ) from err
        raise ValueError(
            f"{_what(entry)}: {str(path)!r} is not a readable PyTorch checkpoint (truncated or "
            f"another kind of file): {err}. {redo}"
        ) from err
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise ValueError(
            f"{_what(entry)}: {str(path)!r} is not a readable PyTorch checkpoint (truncated or "
            f"another kind of file): {type(err).__name__}: {err}. {redo}"
        ) from err


def _convert_prenet_authors(state: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The PReNet authors' keys (``conv0.0``, ``res_conv1.0``, ``conv_i.0``, ...) to rainkit's.

    ``conv0`` -> ``head.0``; ``res_convK.{0,2}`` -> ``blocks.{K-1}.body.{0,2}``; ``conv.0`` ->
    ``tail`` (``out_conv`` for ``prenet_real``); the LSTM gates ``conv_i, conv_f, conv_g,
    conv_o`` are stacked into ``lstm.gates``; the GRU's ``conv_z, conv_b`` into ``gru.gates``
    and ``conv_g`` (over :math:`[r h, x]`) into ``gru.candidate`` (over :math:`[x, r h]`, so its
    input halves swap). A ``module.`` prefix (``nn.DataParallel``) is dropped. Keys it does
    not know are kept as they are, so that strict loading names them.
    """
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    out: dict[str, Any] = {}
    lstm = ("conv_i", "conv_f", "conv_g", "conv_o")
    gru = ("conv_z", "conv_b")
    recurrent = "gru" if model == "prenet_gru" else "lstm"
    for suffix in ("weight", "bias"):
        if recurrent == "lstm" and all(f"{n}.0.{suffix}" in state for n in lstm):
            out[f"lstm.gates.{suffix}"] = torch.cat([state.pop(f"{n}.0.{suffix}") for n in lstm])
        if recurrent == "gru" and all(f"{n}.0.{suffix}" in state for n in gru):
            out[f"gru.gates.{suffix}"] = torch.cat([state.pop(f"{n}.0.{suffix}") for n in gru])
            candidate = state.pop(f"conv_g.0.{suffix}", None)
            if candidate is not None:
                if suffix == "weight":
                    hidden = candidate.shape[0]
                    candidate = torch.cat([candidate[:, hidden:], candidate[:, :hidden]], dim=1)
                out[f"gru.candidate.{suffix}"] = candidate
    tail = "out_conv" if model == "prenet_real" else "tail"
    for key, value in state.items():
        module, _, rest = key.partition(".")
        if module == "conv0":
            out[f"head.{rest}"] = value
        elif module.startswith("res_conv") and module[len("res_conv"):].isdigit():
            out[f"blocks.{int(module[len('res_conv'):]) - 1}.body.{rest}"] = value
        elif module == "conv" and rest.startswith("0."):
            out[f"{tail}.{rest[2:]}"] = value
        else:
            out[key] = value
    return out


def _read_rainkit_checkpoint(path: Path, entry: PretrainedWeights,
                             map_location: Any) -> Mapping[str, Any]:
    """The state dict of a rainkit checkpoint, after checking it is this entry's network."""
    from rainkit.checkpoint import load_checkpoint  # imports rainkit.nn: not at module level

    checkpoint = load_checkpoint(path, map_location=map_location)
    if not isinstance(checkpoint, Mapping) or not {"model_name", "model"} <= set(checkpoint):
        raise ValueError(
            f"{_what(entry)}: {str(path)!r} is not a rainkit checkpoint (a dict with "
            "'model_name', 'model_kwargs' and 'model')."
        )
    kwargs = dict(checkpoint.get("model_kwargs") or {})
    if checkpoint["model_name"] != entry.model or kwargs != dict(entry.model_kwargs):
        raise ValueError(
            f"{_what(entry)}: {str(path)!r} is a checkpoint of {checkpoint['model_name']!r} "
            f"with {kwargs}, expected {entry.model!r} with {dict(entry.model_kwargs)}."
        )
    return checkpoint["model"]


def _load_strict(net: nn.Module, state: Mapping[str, Any], entry: PretrainedWeights,
                 path: Path) -> None:
    """``load_state_dict(strict=True)`` with a message that names what differs."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k}: file {tuple(state[k].shape)}, network {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != v.shape
    )
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append(f"shapes differ: {shapes}")
        raise ValueError(
            f"{_what(entry)}: {str(path)!r} is a checkpoint of another architecture than "
            f"{entry.model} with {dict(entry.model_kwargs)} ({'; '.join(parts)}). Pick the "
            "table entry of the network it was trained with."
        )
    net.load_state_dict(state, strict=True)


def load_pretrained(
    name: str,
    path: str | os.PathLike[str] | None = None,
    *,
    map_location: Any = "cpu",
    check_hash: bool = True,
) -> nn.Module:
    """Build the network of the checkpoint ``name`` and load its published weights.

    The file is looked up at ``path`` when given, else as :attr:`PretrainedWeights.file_name`
    in the torch hub cache (``torch.hub.get_dir()/checkpoints``; ``rainkit download NAME`` or
    :func:`download_pretrained` put it there). Nothing is downloaded here. The file's SHA-256
    is checked, it is read with ``torch.load(..., weights_only=True)``, its keys are converted
    from its :attr:`~PretrainedWeights.format`, and every weight is loaded strictly.

    Args:
        name: a key of :data:`PRETRAINED` (``"prenet-rain100h"``, ...).
        path: an explicit file (takes precedence over the cache).
        map_location: passed to :func:`torch.load`; ``"cpu"`` reads files saved from CUDA
            tensors (the PReNet authors' are) on any machine. The network is built on the CPU
            and moved to the device of the loaded tensors by ``load_state_dict``'s copy.
        check_hash: verify the SHA-256. ``False`` loads a file of the same network that you
            fine-tuned yourself; a file of another architecture is still detected (the keys or
            shapes that differ are named), but a file of a network with the same tensors, such
            as ``prenet_real`` for ``prenet``, cannot be told apart.

    Returns:
        The network in eval mode.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: unknown ``name`` (the valid names are listed), wrong hash, a file that is
            empty, truncated or not a checkpoint, or a checkpoint of another architecture.
        FileNotFoundError: no file; the message names the URL, the folder, the exact file name
            and the download command.
        RuntimeError: a CUDA-saved file with ``map_location=None`` on a machine without CUDA.

    Example:
        >>> from rainkit.nn import PRETRAINED
        >>> entry = PRETRAINED["prenet-rain100h"]
        >>> entry.model, dict(entry.model_kwargs), entry.file_name
        ('prenet', {'stages': 6}, 'prenet-rain100h-127c0098.pth')
        >>> net = load_pretrained("prenet-rain100h")  # doctest: +SKIP
    """
    entry = _entry(name)
    if not isinstance(check_hash, bool):
        raise TypeError(f"check_hash must be a bool, got {type(check_hash).__name__}")
    file = resolve_weights_file(
        entry.file_name, path, what=_what(entry), url=entry.url,
        hint=f"Download it with `rainkit download {entry.name}`.",
    )
    if check_hash:
        verify_sha256(
            file, entry.sha256, what=_what(entry),
            hint=f"Download it with `rainkit download {entry.name}`; for a file you trained "
                 "yourself from this checkpoint, pass check_hash=False.",
        )
    if entry.format == "rainkit":
        state = _read_rainkit_checkpoint(file, entry, map_location)
    else:
        state = _read_file(file, entry, map_location)
        if isinstance(state, Mapping) and {"model_name", "model"} <= set(state):
            raise ValueError(
                f"{_what(entry)}: {str(file)!r} is a rainkit checkpoint of "
                f"{state['model_name']!r}, not a file of the PReNet authors."
            )
        if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise ValueError(
                f"{_what(entry)}: {str(file)!r} is not a state dict (a dict of tensors), got "
                f"{type(state).__name__}."
            )
        state = _convert_prenet_authors(state, entry.model)
    net = entry.build()
    _load_strict(net, state, entry, file)
    return net.eval()


def download_pretrained(
    name: str,
    *,
    url: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Download the checkpoint ``name`` into the hub cache, checking its SHA-256.

    The only function of :mod:`rainkit.nn` that uses the network. The file goes to
    ``directory/file_name`` (default: the torch hub cache, where :func:`load_pretrained` looks)
    under a temporary name first, and is renamed only when its hash is right.

    Args:
        name: a key of :data:`PRETRAINED`.
        url: another source of the same file (a mirror, or ``file://`` for a local copy).
        directory: the destination folder (default ``torch.hub.get_dir()/checkpoints``).
        progress: show a progress bar on stderr.
        overwrite: download again even when a file with the right hash is there.

    Returns:
        The path of the file.

    Raises:
        ValueError: unknown name, or the downloaded (or an existing) file has another hash.
        OSError: the download failed; the message names the URL.

    Example:
        >>> path = download_pretrained("prenet-rain100h")  # doctest: +SKIP
    """
    entry = _entry(name)
    folder = hub_checkpoint_dir() if directory is None else Path(os.fspath(directory))
    return download_file(url or entry.url, folder / entry.file_name, entry.sha256,
                         what=_what(entry), progress=progress, overwrite=overwrite)


def describe_pretrained(name: str) -> str:
    """One line about the checkpoint ``name``: network, size, training set, published scores,
    and whether its file is in the hub cache (``rainkit models`` prints these).

    Example:
        >>> print(describe_pretrained("prn_r-rain100h").split(";")[0])
        prn_r-rain100h: prn_r(stages=6), 21,123 parameters
    """
    entry = _entry(name)
    kwargs = ", ".join(f"{k}={v!r}" for k, v in entry.model_kwargs.items())
    scores = ", ".join(f"{s.test_set} {s.psnr:.2f} dB / {s.ssim:.3f} ({s.convention})"
                       for s in entry.published) or "no published scores"
    cached = (hub_checkpoint_dir() / entry.file_name).is_file()
    return (f"{entry.name}: {entry.model}({kwargs}), {entry.num_params:,} parameters; trained on "
            f"{entry.training_set}; published {scores}; "
            f"{'in the hub cache' if cached else 'not downloaded'} ({entry.file_name})")

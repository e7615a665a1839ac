"""The photo path: read a photo, derain it (in tiles, at a chosen scale), write it back.

``rainkit derain`` and ``rainkit evaluate`` both go through this module, and so can any
script: one place decides how a photo is read (EXIF orientation applied, alpha split off,
grayscale repeated), how a large image is tiled (with the network's measured context margin,
measured once per architecture and cached), how a photo far larger than the training images is
handled (:class:`Derainer` with ``scale``), and how a result is written (8 bits, atomically).

Example:
    >>> import torch
    >>> from rainkit.inference import Derainer
    >>> from rainkit.nn import BaselineNet
    >>> derain = Derainer(BaselineNet(channels=4), tile=0)  # tile=0: whole images
    >>> derain(torch.rand(3, 40, 60)).shape
    torch.Size([3, 40, 60])
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from rainkit import __version__
from rainkit._checks import (
    check_bool,
    check_choice,
    check_device,
    check_image_tensor,
    check_int,
    check_output_path,
    check_path,
)
from rainkit._files import atomic_write_text
from rainkit.data.io import read_image, save_image, split_alpha
from rainkit.nn.tiling import context_margin, tiled_forward

__all__ = [
    "AUTO_SCALE_MIN",
    "FALLBACK_MARGIN",
    "TRAINING_SHORT_SIDE",
    "Derainer",
    "Photo",
    "margin_cache_dir",
    "read_photo",
    "resolve_scale",
    "tile_margin",
    "to_uint8",
    "write_photo",
]

Rounding = Literal["round", "floor"]

TRAINING_SHORT_SIDE = 384
"""The short side, in pixels, that ``scale="auto"`` brings a photo down to: about the size of
the images the published networks were trained on (Rain100H/L: 481 x 321; Rain1400 and
SPA-Data crops: 512 x 384 and larger)."""

AUTO_SCALE_MIN = 1.5
"""``scale="auto"`` leaves photos alone unless their short side is at least this many times
:data:`TRAINING_SHORT_SIDE` (576 px): below that, streaks are near the training sizes."""

FALLBACK_MARGIN = 64
"""The tile margin used for networks with a global branch (no finite margin makes tiles
exact; :func:`tile_margin` returns ``None`` for them)."""

_CACHE_FORMAT = 1


@dataclass
class Photo:
    """A photo as the networks take it, plus what is needed to write it back in its format.

    Attributes:
        rgb: :math:`(3, H, W)` float tensor in :math:`[0, 1]` (a grayscale photo repeated).
        alpha: the :math:`(1, H, W)` alpha channel in :math:`[0, 1]`, or ``None``.
        grayscale: whether the file was grayscale (the result is written as grayscale).
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None = None
    grayscale: bool = False

    def replace(self, rgb: torch.Tensor) -> Photo:
        """The same photo (alpha, grayscale) with other colour values."""
        return Photo(rgb, self.alpha, self.grayscale)


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Read an image file upright (EXIF orientation applied) for a network.

    16-bit files keep their precision (:func:`rainkit.data.read_image`); an alpha channel is
    split off (:func:`rainkit.data.split_alpha`); grayscale is repeated to RGB.

    Args:
        path: the image file (PNG, JPEG, BMP, TIFF, WebP).

    Returns:
        A :class:`Photo`.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: no such file.
        ValueError: the file is empty, corrupt or not an image; the message names it.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/gray.png"
        >>> Image.fromarray(np.zeros((4, 6), np.uint8)).save(path)
        >>> photo = read_photo(path)
        >>> photo.rgb.shape, photo.alpha, photo.grayscale
        (torch.Size([3, 4, 6]), None, True)
    """
    color, alpha = split_alpha(read_image(check_path(path), mode="keep"))
    grayscale = color.shape[0] == 1
    return Photo(color.expand(3, -1, -1).contiguous(), alpha, grayscale)


# float64 elements converted at a time by to_uint8 (8 MB)
_UINT8_BAND_ELEMENTS = 1 << 20


def to_uint8(image: torch.Tensor, rounding: Rounding = "round") -> torch.Tensor:
    """Clamp a float image to :math:`[0, 1]` and store it in 8 bits as a test script would.

    .. math::
        q = \\operatorname{round}(255 \\cdot \\operatorname{clamp}(x, 0, 1))
        \\quad\\text{or}\\quad \\lfloor 255 \\cdot \\operatorname{clamp}(x, 0, 1) \\rfloor

    ``"round"`` is what most pipelines do (``np.round`` before the cast, ``torchvision``'s
    ``save_image``); ``"floor"`` is truncation, what a bare cast to ``uint8`` does (PReNet's
    test script: see the ``pipeline_quantize`` of the ``prenet-y`` convention). The product
    is computed in float64, so values that are exact multiples of :math:`1/255` land on their
    level.

    Args:
        image: a floating image :math:`(C, H, W)` or a batch :math:`(B, C, H, W)`, nominally
            in :math:`[0, 1]` (values outside are clamped), on any device.
        rounding: ``"round"`` or ``"floor"``.

    Returns:
        A ``uint8`` tensor of the same shape, on the same device.

    Raises:
        TypeError: ``image`` is not a tensor, or not floating-point (an integer image is
            already quantized).
        ValueError: ``image`` is not :math:`(C, H, W)` or :math:`(B, C, H, W)`, is empty, or
            ``rounding`` is unknown.

    Example:
        >>> to_uint8(torch.tensor([[[0.5, 1.2, -0.1]]]), "floor").tolist()
        [[[127, 255, 0]]]
        >>> to_uint8(torch.full((1, 1, 1), 0.5), "round").tolist()
        [[[128]]]
    """
    check_image_tensor(image, "image", ndims=(3, 4))
    check_choice(rounding, ("round", "floor"), "rounding")
    image = image.detach()
    out = torch.empty(image.shape, dtype=torch.uint8, device=image.device)
    # in place, in bands of rows: the float64 copy of a 12-megapixel photo would take 288 MB
    rows = max(1, _UINT8_BAND_ELEMENTS // max(1, image[..., :1, :].numel()))
    for start in range(0, image.shape[-2], rows):
        band = image[..., start:start + rows, :].to(torch.float64, copy=True)
        band.clamp_(0, 1).mul_(255)
        band = band.floor_() if rounding == "floor" else band.round_()
        out[..., start:start + rows, :] = band
    return out


def write_photo(photo: Photo, path: str | os.PathLike[str], *,
                rounding: Rounding = "round") -> Path:
    """Write a derained photo as an 8-bit image in the input's channels, atomically.

    The colour is clamped to :math:`[0, 1]` and stored by :func:`to_uint8`; a grayscale photo
    is written as the mean of the three channels, an alpha channel is appended unchanged.
    The file appears whole or not at all (:mod:`rainkit._files`); its format follows the
    suffix.

    Args:
        photo: the result, its ``rgb`` a :math:`(3, H, W)` float tensor (any device).
        path: the output file; its folder is created.
        rounding: ``"round"`` or ``"floor"`` (see :func:`to_uint8`).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> import tempfile
        >>> from rainkit.data import decode_image
        >>> path = write_photo(Photo(torch.full((3, 2, 2), 0.5), grayscale=True),
        ...                    tempfile.mkdtemp() + "/out.png")
        >>> decode_image(path, mode="keep").shape, decode_image(path, mode="keep").unique()
        (torch.Size([1, 2, 2]), tensor([128], dtype=torch.uint8))
    """
    if not isinstance(photo, Photo):
        raise TypeError(f"photo must be a rainkit.inference.Photo, got {type(photo).__name__}")
    check_image_tensor(photo.rgb, "photo.rgb", ndims=(3,))
    if photo.alpha is not None:
        check_image_tensor(photo.alpha, "photo.alpha", ndims=(3,), channels=1)
    image = photo.rgb.detach().float()
    if photo.grayscale:
        image = image.mean(dim=0, keepdim=True)
    parts = [to_uint8(image.cpu(), rounding)]
    if photo.alpha is not None:
        parts.append(to_uint8(photo.alpha.detach().cpu(), "round"))
    target = check_path(path)
    save_image(torch.cat(parts), target)  # atomic: rainkit._files
    return target


# -- the tile margin: measured once per architecture, cached -------------------------------------

def margin_cache_dir() -> Path:
    """Where measured tile margins are kept: ``$XDG_CACHE_HOME/rainkit/margins``, else
    ``~/.cache/rainkit/margins``. Each file is a small JSON record; delete the folder to
    measure again."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rainkit" / "margins"


def _check_cache_dir(value: object) -> Path | None:
    """``None``, or a folder to keep margins in: an existing folder or a path that can be
    created as one (not a file, not ``""``)."""
    if value is None:
        return None
    return check_output_path(value, "cache_dir", folder=True)


def _plain(value: object) -> bool:
    return isinstance(value, (bool, int, float, str)) or (
        isinstance(value, tuple) and all(_plain(v) for v in value))


def _fingerprint(model: nn.Module, in_channels: int) -> tuple[str, str]:
    """A key for the architecture and configuration of ``model``, independent of its weights:
    its class, its module tree with every layer's settings (``repr``), the plain settings each
    module keeps as attributes (``stages=6``), the input channels and the rainkit version."""
    settings = []
    for name, module in model.named_modules():
        plain = {k: v for k, v in sorted(vars(module).items())
                 if not k.startswith("_") and k != "training" and _plain(v)}
        settings.append((name, type(module).__qualname__, plain))
    text = json.dumps([type(model).__module__, type(model).__qualname__, repr(model), settings,
                       in_channels, __version__], default=str)
    return hashlib.sha256(text.encode()).hexdigest(), type(model).__qualname__


@torch.no_grad()
def _random_copy(model: nn.Module) -> nn.Module:
    """A CPU float64 copy of ``model`` with random weights, so that the measured margin is a
    property of the architecture: a zero-initialised output layer (an untrained network that
    starts at the identity) would otherwise hide the receptive field."""
    probe = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    generator = torch.Generator().manual_seed(0)
    for parameter in probe.parameters():
        fan_in = parameter[0].numel() if parameter.ndim > 1 else 1
        parameter.copy_(torch.randn(parameter.shape, generator=generator,
                                    dtype=torch.float64) / math.sqrt(fan_in))
    return probe


def tile_margin(model: nn.Module, *, in_channels: int | None = None,
                cache_dir: str | os.PathLike[str] | None = None,
                cache: bool = True) -> int | None:
    """The context margin a tile needs for ``model``: measured once, then read from a cache.

    The margin is :func:`rainkit.nn.context_margin` (half the receptive field, measured by a
    forward probe) of a CPU copy of ``model`` with random weights, so that it depends on the
    architecture and configuration only (the model itself is not moved or changed). The
    measurement takes seconds to a minute (PReNet: about a minute on one CPU thread); it is
    stored under :func:`margin_cache_dir` keyed by the model's class, its layers' settings
    and the rainkit version, so each architecture is measured once per machine.

    Args:
        model: the network.
        in_channels: its input channels (default: ``model.in_channels``, else 3).
        cache_dir: the cache folder (default :func:`margin_cache_dir`): an existing folder or
            one to create, not a file.
        cache: read and write the cache; ``False`` always measures.

    Returns:
        The margin in pixels, or ``None`` when the network has a global branch (every output
        pixel depends on the whole image), so that no finite margin makes tiles exact.

    Example:
        >>> import tempfile
        >>> from rainkit.nn import BaselineNet
        >>> tile_margin(BaselineNet(channels=4), cache_dir=tempfile.mkdtemp())  # 21 x 21
        10
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if in_channels is None:
        in_channels = int(getattr(model, "in_channels", 3))
    in_channels = check_int(in_channels, "in_channels", minimum=1)
    given = _check_cache_dir(cache_dir)
    cache = check_bool(cache, "cache")
    key, name = _fingerprint(model, in_channels)
    folder = margin_cache_dir() if given is None else given
    record = folder / f"{name}-{key[:16]}.json"
    if cache and record.is_file():
        try:
            stored = json.loads(record.read_text())
            if stored.get("format") == _CACHE_FORMAT and stored.get("key") == key:
                margin = stored["margin"]
                if margin is None or (isinstance(margin, int) and margin >= 0):
                    return margin
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # unreadable or foreign: measure again and replace it
    margin = context_margin(_random_copy(model), in_channels=in_channels)
    if cache:
        try:
            atomic_write_text(record, json.dumps({"format": _CACHE_FORMAT, "key": key,
                                                  "model": name, "margin": margin,
                                                  "rainkit": __version__}) + "\n")
        except OSError:
            pass  # a read-only home: measure again next time rather than fail
    return margin


def resolve_scale(scale: float | str, height: int, width: int, *,
                  target: int = TRAINING_SHORT_SIDE) -> float:
    """The factor by which :class:`Derainer` shrinks an image before the network sees it.

    Args:
        scale: ``"auto"``, or a number ``>= 1`` (1: full resolution).
        height: image height, an int ``>= 1``.
        width: image width, an int ``>= 1``.
        target: the short side ``"auto"`` aims at.

    Returns:
        ``scale`` itself for a number; for ``"auto"``, :math:`\\min(H, W) / \\text{target}`
        when that is at least :data:`AUTO_SCALE_MIN`, else 1.

    Raises:
        TypeError: ``scale`` is neither ``"auto"`` nor a number; ``height``, ``width`` or
            ``target`` is not an int.
        ValueError: ``scale < 1`` or an unknown string; ``height``, ``width`` or ``target``
            below 1.

    Example:
        >>> resolve_scale("auto", 2000, 3000)  # short side 2000 -> 384
        5.208333333333333
        >>> resolve_scale("auto", 321, 481), resolve_scale(2, 321, 481)
        (1.0, 2.0)
    """
    height = check_int(height, "height", minimum=1)
    width = check_int(width, "width", minimum=1)
    target = check_int(target, "target", minimum=1)
    if isinstance(scale, str):
        if scale != "auto":
            raise ValueError(f"scale must be 'auto' or a number >= 1, got {scale!r}")
        factor = min(height, width) / target
        return factor if factor >= AUTO_SCALE_MIN else 1.0
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise TypeError(f"scale must be 'auto' or a number >= 1, got {scale!r}")
    if scale < 1:
        raise ValueError(f"scale must be 'auto' or a number >= 1, got {scale!r}")
    return float(scale)


@dataclass
class _Stats:
    images: int = 0
    pixels: int = 0
    tiles: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Derainer:
    """A network ready for photos of any size: tiles, margin, scale and device, decided once.

    Calling it derains a :math:`(3, H, W)` or :math:`(B, 3, H, W)` image in :math:`[0, 1]`:

    1. With ``scale`` :math:`s > 1` (``"auto"``: see :func:`resolve_scale`), the rain layer is
       estimated on the image shrunk by :math:`s` (bicubic with antialiasing), where streaks
       many pixels wide look like the training data, then enlarged back (bicubic) and
       subtracted at full resolution:

       .. math::
           \\hat{B} = O - \\operatorname{up}_s\\bigl(\\operatorname{down}_s(O)
           - f(\\operatorname{down}_s(O))\\bigr)

       Detail finer than the small image's pixels is kept from the input :math:`O`, so the
       result stays sharp; only the rain layer is smooth. It helps when the streaks are
       several times wider than in the training images (a photo taken at many times their
       resolution); fine streaks shrink below a pixel and are missed, so keep ``scale=1`` for
       them (the command-line guide shows measurements of both).
    2. An image (at that scale) larger than ``tile`` on a side runs in ``tile x tile`` pieces
       with ``margin`` pixels of context (:func:`rainkit.nn.tiled_forward`). The automatic
       margin comes from :func:`tile_margin` -- measured once per architecture and cached --
       and only when an image needs more than one tile.

    The network is moved to ``device`` once, here, and never leaves it; results come back on
    that device.

    Args:
        model: a network mapping :math:`(B, 3, H, W)` to the derained :math:`(B, 3, H, W)`
            (every :class:`~rainkit.nn.RainNet`), put in eval mode.
        device: where to run it, a :class:`torch.device` or a string such as ``"cpu"`` or
            ``"cuda:1"`` that exists on this machine (default: where its parameters are).
        tile: tile side in pixels; 0 runs whole images.
        margin: ``"auto"`` or a number of pixels.
        scale: ``"auto"`` or a factor ``>= 1`` (default 1: full resolution).
        target: the short side ``scale="auto"`` aims at.
        cache_dir: the margin cache folder (default :func:`margin_cache_dir`): an existing
            folder or one to create, not a file.
        progress: show a progress bar over the tiles of large images (on stderr); a bool.
        log: a callable taking one ``str`` (``print``, ``list.append``, a logger's method),
            called with one-line notices (the margin being measured, approximate tiles); by
            default (``None``) notices are kept in :attr:`notes` only.

    Raises:
        TypeError: ``model`` is not a module; ``scale``, ``margin``, ``device``,
            ``cache_dir``, ``progress`` or ``log`` of a wrong type.
        ValueError: a negative ``tile`` or ``margin``, ``scale < 1`` or an unknown string; a
            device that does not exist here (an unknown name, ``"cuda"`` without CUDA, an
            index beyond the devices present); a ``cache_dir`` that is a file.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        device: torch.device | str | None = None,
        tile: int = 512,
        margin: int | Literal["auto"] = "auto",
        scale: float | Literal["auto"] = 1.0,
        target: int = TRAINING_SHORT_SIDE,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.tile = check_int(tile, "tile", minimum=0)
        if isinstance(margin, str) and margin != "auto":
            raise ValueError(f"margin must be 'auto' or a number of pixels >= 0, got {margin!r}")
        if margin != "auto":
            check_int(margin, "margin", minimum=0)
        self._margin: int | str | None = margin
        resolve_scale(scale, 1, 1)  # checks the value
        self.scale = scale
        self.target = check_int(target, "target", minimum=1)
        self.cache_dir = _check_cache_dir(cache_dir)
        self.progress = check_bool(progress, "progress")
        if log is not None and not callable(log):
            raise TypeError(f"log must be a callable taking one str (such as print or a list's "
                            f"append) or None, got {type(log).__name__} {log!r:.40}")
        self._log = log
        if device is None:
            parameter = next(model.parameters(), None)
            self.device = parameter.device if parameter is not None else torch.device("cpu")
        else:
            self.device = check_device(device, "device")
        self.model = model.to(self.device).eval()
        self.notes: list[str] = []
        self.stats = _Stats()

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            if self._log is not None:
                self._log(text)

    @property
    def margin(self) -> int:
        """The tile margin in pixels (measured or read from the cache on first use)."""
        if self._margin == "auto":
            start = time.perf_counter()
            measured = tile_margin(self.model, cache_dir=self.cache_dir)
            took = time.perf_counter() - start
            if took > 1:
                self._note(f"measured the receptive field of {type(self.model).__name__} once "
                           f"({took:.0f} s; cached in {self.cache_dir or margin_cache_dir()})")
            if measured is None:
                self._note(f"{type(self.model).__name__} pools over the whole image, so tiles "
                           f"cannot reproduce the whole-image result exactly; using a "
                           f"{FALLBACK_MARGIN} px margin (pass tile 0 for exact whole-image "
                           "inference if memory allows)")
                measured = FALLBACK_MARGIN
            self._margin = measured
        return int(self._margin)  # type: ignore[arg-type]  # an int once resolved

    def _forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        if not self.tile or (height <= self.tile and width <= self.tile):
            self.stats.tiles += 1
            out: torch.Tensor = self.model(image)
            return out
        count = math.ceil(height / self.tile) * math.ceil(width / self.tile)
        self.stats.tiles += count
        if not self.progress:
            return tiled_forward(self.model, image, tile=self.tile, margin=self.margin)
        from tqdm import tqdm

        margin = self.margin  # resolved before the bar starts: its notice comes first
        with tqdm(total=count, unit="tile", leave=False, dynamic_ncols=True) as bar:
            def step(piece: torch.Tensor) -> torch.Tensor:
                result: torch.Tensor = self.model(piece)
                bar.update(1)
                return result

            return tiled_forward(step, image, tile=self.tile, margin=margin)

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Derain :math:`(3, H, W)` or :math:`(B, 3, H, W)`; the result has the same shape,
        on :attr:`device` (values unclamped: the network's output)."""
        check_image_tensor(image, "image", ndims=(3, 4))
        single = image.ndim == 3
        batch = (image[None] if single else image).to(self.device)
        height, width = batch.shape[-2:]
        start = time.perf_counter()
        factor = resolve_scale(self.scale, height, width, target=self.target)
        if factor == 1.0:
            result = self._forward(batch)
        else:
            size = (max(1, round(height / factor)), max(1, round(width / factor)))
            small = F.interpolate(batch, size=size, mode="bicubic", antialias=True,
                                  align_corners=False).clamp(0, 1)
            rain = small - self._forward(small)
            result = batch - F.interpolate(rain, size=(height, width), mode="bicubic",
                                           align_corners=False)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stats.images += batch.shape[0]
        self.stats.pixels += batch.shape[0] * height * width
        self.stats.seconds += time.perf_counter() - start
        return result[0] if single else result

    def derain_photo(self, photo: Photo) -> Photo:
        """Derain a :class:`Photo`; alpha and grayscale are carried over.

        Raises:
            ValueError: the network's output is not finite (broken weights).
        """
        result = self(photo.rgb).float()
        if not bool(torch.isfinite(result).all()):
            raise ValueError("the network's output is not finite (NaN or inf): its weights are "
                             "broken")
        return photo.replace(result)

    def derain_file(self, source: str | os.PathLike[str], target: str | os.PathLike[str], *,
                    rounding: Rounding = "round") -> Photo:
        """Read ``source``, derain it and write ``target`` atomically (:func:`write_photo`).

        Returns:
            The derained :class:`Photo` (colour on :attr:`device`).
        """
        result = self.derain_photo(read_photo(source))
        write_photo(result, target, rounding=rounding)
        return result

    def summary(self) -> str:
        """One line: images, megapixels, tiles, seconds, and the margin when tiles were used."""
        stats = self.stats
        text = (f"{stats.images} image(s), {stats.pixels / 1e6:.1f} Mpixel, "
                f"{stats.seconds:.1f} s of network time")
        if stats.tiles > stats.images:
            text += f", {stats.tiles} tiles with a {self.margin} px margin"
        return text

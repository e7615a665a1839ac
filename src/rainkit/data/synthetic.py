"""Synthetic rain: streaks from sparse noise, motion-blurred and screen-blended onto a photo."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from rainkit._checks import check_image_tensor, check_int, check_real
from rainkit.data.io import check_unit_interval, read_image
from rainkit.data.transforms import paired_random_crop, paired_random_flip

__all__ = ["SyntheticRainDataset", "line_kernel", "synthesize_rain"]


def line_kernel(length: float, angle: float, width: float = 1.0) -> np.ndarray:
    """A motion-blur kernel: a line segment with a Gaussian cross-section, peak value 1.

    Each kernel value is :math:`\\exp(-d^2 / (2 \\sigma^2))` where :math:`d` is the pixel's
    distance to the segment of the given length through the centre and
    :math:`\\sigma = \\mathrm{width} / 2`.

    Args:
        length: the segment's length in pixels, ``> 0``.
        angle: its direction in degrees from the vertical, positive leaning right (clockwise).
        width: the streak's thickness in pixels, ``> 0``.

    Returns:
        A ``float32`` array of shape :math:`(k, k)`, :math:`k` odd, maximum 1.

    Example:
        >>> kernel = line_kernel(5, 0.0, 1.0)
        >>> kernel.shape, kernel[2:7, 4].tolist(), bool(kernel[0, 0] < 1e-6)
        ((9, 9), [1.0, 1.0, 1.0, 1.0, 1.0], True)
    """
    length = check_real(length, "length", minimum=0.0, strict_minimum=True)
    width = check_real(width, "width", minimum=0.0, strict_minimum=True)
    angle = check_real(angle, "angle")
    theta = math.radians(angle)
    dx, dy = math.sin(theta), math.cos(theta)
    half = length / 2.0
    radius = math.ceil(half * max(abs(dx), abs(dy)) + width)
    coords = np.arange(-radius, radius + 1, dtype=np.float64)
    y, x = np.meshgrid(coords, coords, indexing="ij")
    t = np.clip(x * dx + y * dy, -half, half)
    distance = np.hypot(x - t * dx, y - t * dy)
    sigma = width / 2.0
    return np.exp(-0.5 * (distance / sigma) ** 2).astype(np.float32)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    return F.conv2d(F.pad(image, (0, 0, radius, radius), mode="replicate"), g.view(1, 1, -1, 1))


def synthesize_rain(
    image: torch.Tensor,
    *,
    density: float = 0.004,
    length: float = 15.0,
    angle: float = 10.0,
    width: float = 1.0,
    brightness: float = 0.8,
    blur: float = 0.5,
    seed: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add synthetic rain streaks to an image.

    A fraction ``density`` of the pixels receive a random intensity :math:`n \\sim U(0.5, 1)`
    (the drops), the drop map is motion-blurred along ``angle`` by the peak-1 line kernel of
    :func:`line_kernel` (so every drop becomes a streak of its own intensity), softened by a
    Gaussian of standard deviation ``blur``, scaled by ``brightness`` and clipped to
    :math:`[0, 1]`; the rain layer :math:`R` is then composited with a screen blend:

    .. math::

        R = \\min\\big(1, b \\cdot G_{\\sigma} * (K_{\\ell, \\theta, w} * N)\\big), \\qquad
        I_{\\text{rainy}} = 1 - (1 - I)(1 - R).

    The same streaks fall on every channel (white rain). The result is a deterministic
    function of the arguments when ``seed`` is given.

    Args:
        image: a clean image of shape :math:`(3, H, W)` or :math:`(B, 3, H, W)`, floating,
            with finite values in [0, 1] (a 0..255 image, NaN or inf raise
            :class:`ValueError`: the screen blend is only defined on [0, 1]).
        density: fraction of pixels that start a streak, in :math:`[0, 1]`.
        length: streak length in pixels, ``> 0``.
        angle: streak direction in degrees from the vertical, positive leaning right.
        width: streak thickness in pixels, ``> 0``.
        brightness: streak intensity :math:`b`, ``>= 0``.
        blur: Gaussian standard deviation in pixels applied to the streaks; ``0`` (or below
            ``1e-3``) for none.
        seed: seed of the NumPy random generator; ``None`` draws fresh entropy.

    Returns:
        ``(rainy, rain_layer)``: both the shape, dtype and device of ``image``, in [0, 1].

    Shape:
        - image: :math:`(3, H, W)` or :math:`(B, 3, H, W)`
        - rainy, rain_layer: the same as ``image``

    Example:
        >>> clean = torch.full((3, 32, 32), 0.25)
        >>> rainy, rain = synthesize_rain(clean, density=0.05, seed=0)
        >>> bool((rainy >= clean).all()), bool(rain.max() > 0)
        (True, True)
        >>> torch.equal(rainy, synthesize_rain(clean, density=0.05, seed=0)[0])
        True

    References:
        Yang et al., "Deep Joint Rain Detection and Removal from a Single Image", CVPR 2017
        (the Rain100L/H synthesis); Garg and Nayar, "Photorealistic Rendering of Rain Streaks",
        SIGGRAPH 2006.
    """
    check_image_tensor(image, "image", ndims=(3, 4), channels=3)
    check_unit_interval(image.detach(), "image")
    density = check_real(density, "density", minimum=0.0, maximum=1.0)
    length = check_real(length, "length", minimum=0.0, strict_minimum=True)
    width = check_real(width, "width", minimum=0.0, strict_minimum=True)
    brightness = check_real(brightness, "brightness", minimum=0.0)
    blur = check_real(blur, "blur", minimum=0.0)
    angle = check_real(angle, "angle")
    if seed is not None:
        check_int(seed, "seed", minimum=0)
    batch = image if image.ndim == 4 else image[None]
    b, _, h, w = batch.shape
    rng = np.random.default_rng(seed)
    starts = rng.random((b, 1, h, w)) < density
    drops = starts * rng.uniform(0.5, 1.0, size=(b, 1, h, w))
    kernel = torch.from_numpy(line_kernel(length, angle, width))
    pad = kernel.shape[-1] // 2
    noise = torch.from_numpy(drops.astype(np.float32))
    streaks = F.conv2d(F.pad(noise, (pad, pad, pad, pad)), kernel[None, None])
    if blur >= 1e-3:  # a narrower Gaussian is the identity on the pixel grid
        streaks = _gaussian_blur(streaks, blur)
    rain = (brightness * streaks).clamp(0.0, 1.0).to(dtype=image.dtype, device=image.device)
    rain = rain.expand(b, 3, h, w)
    rainy = 1.0 - (1.0 - batch) * (1.0 - rain)
    if image.ndim == 3:
        return rainy[0], rain[0].contiguous()
    return rainy, rain.contiguous()


#: The domain of each rain parameter: (minimum, maximum, minimum exclusive).
_DOMAINS: dict[str, tuple[float | None, float | None, bool]] = {
    "density": (0.0, 1.0, False),
    "length": (0.0, None, True),
    "angle": (None, None, False),
    "width": (0.0, None, True),
    "brightness": (0.0, None, False),
    "blur": (0.0, None, False),
}


def _as_range(value: object, name: str) -> tuple[float, float]:
    """A number or a ``(low, high)`` pair -> a checked ``(low, high)`` inside the domain."""
    minimum, maximum, strict = _DOMAINS[name]
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        try:
            number = check_real(value, name, minimum=minimum, maximum=maximum,
                                strict_minimum=strict)
        except TypeError:
            raise TypeError(
                f"{name} must be a number or a (low, high) pair, got {value!r}"
            ) from None
        return number, number
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {len(value)} values")
    low, high = (check_real(v, f"{name} {side}", minimum=minimum, maximum=maximum,
                            strict_minimum=strict) for v, side in zip(value, ("low", "high")))
    if low > high:
        raise ValueError(f"{name} range must have low <= high, got {tuple(value)}")
    return low, high


class SyntheticRainDataset(Dataset[tuple[torch.Tensor, torch.Tensor, str]]):
    """Rainy/clean pairs made on the fly by :func:`synthesize_rain` from clean images.

    Item ``i`` uses image ``i % len(clean_images)`` and draws its crop, flips and rain
    parameters (each uniformly from its ``(low, high)`` range, or fixed when a number) from a
    NumPy generator seeded with ``(seed, epoch, i)``: the same seed and epoch always give the
    same pairs, in any worker and in any order. Call :meth:`set_epoch` to get fresh rain each
    epoch. Images smaller than ``patch_size`` are reflect-padded.

    Args:
        clean_images: clean images, as :math:`(3, H, W)` tensors in [0, 1] or image paths.
        patch_size: side of the random square crop, or ``None`` for whole images.
        samples_per_image: items per clean image in one epoch.
        augment: random horizontal and vertical flips.
        density, length, angle, width, brightness, blur: a number or a ``(low, high)`` range
            for the :func:`synthesize_rain` argument of the same name.
        seed: base seed.

    Raises:
        TypeError: an option of the wrong type (``augment="yes"``, a string range).
        ValueError: a value outside its domain, checked here rather than mid-training:
            ``density`` in :math:`[0, 1]`, ``length`` and ``width`` :math:`> 0`,
            ``brightness`` and ``blur`` :math:`\\geq 0`, every bound finite, ``low <= high``.
            NumPy numbers (``np.float32(1)``) are accepted.

    Returns:
        Items ``(rainy, clean, name)``: two :math:`(3, H, W)` ``float32`` tensors and
        ``"<image index>-<item>"``.

    Example:
        >>> dataset = SyntheticRainDataset([torch.rand(3, 40, 40)], patch_size=16, seed=1)
        >>> rainy, clean, name = dataset[0]
        >>> rainy.shape, name, torch.equal(rainy, dataset[0][0])
        (torch.Size([3, 16, 16]), '0-0', True)
    """

    def __init__(
        self,
        clean_images: Sequence[torch.Tensor | str | os.PathLike[str]],
        *,
        patch_size: int | None = None,
        samples_per_image: int = 1,
        augment: bool = False,
        density: float | Sequence[float] = (0.001, 0.008),
        length: float | Sequence[float] = (8.0, 25.0),
        angle: float | Sequence[float] = (-25.0, 25.0),
        width: float | Sequence[float] = (0.8, 2.0),
        brightness: float | Sequence[float] = (0.5, 1.0),
        blur: float | Sequence[float] = (0.0, 1.0),
        seed: int = 0,
    ) -> None:
        if isinstance(clean_images, (str, os.PathLike, torch.Tensor)) or not isinstance(
                clean_images, Sequence):
            raise TypeError(f"clean_images must be a sequence of tensors or paths, got "
                            f"{type(clean_images).__name__}")
        if not clean_images:
            raise ValueError("clean_images must be a non-empty sequence of tensors or paths")
        if patch_size is not None:
            check_int(patch_size, "patch_size", minimum=1)
        check_int(samples_per_image, "samples_per_image", minimum=1)
        check_int(seed, "seed", minimum=0)
        if not isinstance(augment, bool):
            raise TypeError(f"augment must be a bool, got {type(augment).__name__} {augment!r}")
        ranges = {
            "density": _as_range(density, "density"),
            "length": _as_range(length, "length"),
            "angle": _as_range(angle, "angle"),
            "width": _as_range(width, "width"),
            "brightness": _as_range(brightness, "brightness"),
            "blur": _as_range(blur, "blur"),
        }
        images = []
        for index, item in enumerate(clean_images):
            if isinstance(item, torch.Tensor):
                check_image_tensor(item, f"clean_images[{index}]", ndims=(3,), channels=3)
                check_unit_interval(item.detach(), f"clean_images[{index}]")
                images.append(item.float())
            else:
                images.append(read_image(item))
        self.images = images
        self.patch_size = patch_size
        self.samples_per_image = samples_per_image
        self.augment = augment
        self.ranges = ranges
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose pairs the dataset returns (fresh rain for every epoch)."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return len(self.images) * self.samples_per_image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        index = check_int(index, "index")
        if not 0 <= index < len(self):
            raise IndexError(f"index must be in [0, {len(self)}), got {index}")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image_index = index % len(self.images)
        clean = self.images[image_index]
        if self.patch_size is not None:
            crop_rng = random.Random(int(rng.integers(2**31)))
            clean, _ = paired_random_crop(clean, clean, self.patch_size, crop_rng)
            if self.augment:
                clean, _ = paired_random_flip(clean, clean, crop_rng)
        params = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in self.ranges.items()}
        rainy, _ = synthesize_rain(clean, **params, seed=int(rng.integers(2**31)))
        name = f"{image_index}-{index // len(self.images)}"
        return rainy.contiguous(), clean.contiguous(), name

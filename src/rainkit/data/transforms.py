"""Paired random crops and flips applied identically to a rainy image and its clean target."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from rainkit._checks import check_int, check_raster, check_same_shape

__all__ = ["pad_to_size", "paired_random_crop", "paired_random_flip"]


def pad_to_size(image: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect-pad an image on the bottom and right so both sides are at least ``size``.

    Reflection needs the padding to be smaller than the side, so very small images are padded
    in several rounds; a side of 1 pixel is repeated instead.

    Args:
        image: a floating-point tensor of shape :math:`(*, H, W)`, typically :math:`(C, H, W)`
            (convert integer images with :func:`~rainkit.data.to_float_tensor` first).
        size: the minimum height and width :math:`s \\ge 1` (an int).

    Returns:
        A tensor of shape :math:`(*, \\max(H, s), \\max(W, s))`; unchanged when large enough.

    Raises:
        TypeError: ``image`` is not a floating-point tensor, or ``size`` is not an int.
        ValueError: ``image`` has fewer than 2 dimensions or a zero-size one, or ``size < 1``.

    Example:
        >>> pad_to_size(torch.zeros(3, 5, 9), 8).shape
        torch.Size([3, 8, 9])
    """
    check_raster(image, "image", floating=True)
    return _pad(image, check_int(size, "size", minimum=1))


def _pad(image: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`pad_to_size` of a checked image and size."""
    lead = image.shape[:-2]
    image = image.reshape(-1, 1, *image.shape[-2:])  # F.pad's reflection wants (N, C, H, W)
    while image.shape[-2] < size or image.shape[-1] < size:
        pad_h = min(size - image.shape[-2], image.shape[-2] - 1) if image.shape[-2] < size else 0
        pad_w = min(size - image.shape[-1], image.shape[-1] - 1) if image.shape[-1] < size else 0
        if image.shape[-2] == 1 or image.shape[-1] == 1:
            mode = "replicate"
            pad_h = max(size - image.shape[-2], 0)
            pad_w = max(size - image.shape[-1], 0)
        else:
            mode = "reflect"
        image = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
    return image.reshape(*lead, *image.shape[-2:])


def paired_random_crop(
    rainy: torch.Tensor, clean: torch.Tensor, size: int, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop the same random ``size`` x ``size`` window from both images.

    Images smaller than ``size`` are first reflect-padded with :func:`pad_to_size` (which
    needs floating-point images; integer images large enough are cropped as they are).

    Args:
        rainy: a tensor of shape :math:`(*, H, W)`, typically :math:`(C, H, W)`.
        clean: a tensor of the same shape.
        size: the side :math:`s \\ge 1` of the square crop (an int).
        rng: the random source (``random`` module state when ``None``).

    Returns:
        Two tensors of shape :math:`(*, s, s)`.

    Raises:
        TypeError: an image is not a real-valued tensor, ``size`` is not an int, or an integer
            image is smaller than ``size`` (padding needs floats).
        ValueError: the shapes differ, an image has fewer than 2 dimensions or a zero-size
            one, or ``size < 1``.

    Example:
        >>> a, b = paired_random_crop(torch.rand(3, 10, 12), torch.rand(3, 10, 12), 4)
        >>> a.shape, b.shape
        (torch.Size([3, 4, 4]), torch.Size([3, 4, 4]))
    """
    _check_pair(rainy, clean)
    size = check_int(size, "size", minimum=1)
    if min(rainy.shape[-2:]) < size:
        for image, name in ((rainy, "rainy"), (clean, "clean")):
            check_raster(image, name, floating=True)
        rainy, clean = _pad(rainy, size), _pad(clean, size)
    randint = rng.randint if rng is not None else random.randint  # else the global generator
    top = randint(0, rainy.shape[-2] - size)
    left = randint(0, rainy.shape[-1] - size)
    window = (..., slice(top, top + size), slice(left, left + size))
    return rainy[window], clean[window]


def paired_random_flip(
    rainy: torch.Tensor, clean: torch.Tensor, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip both images horizontally, then vertically, each with probability 1/2.

    Args:
        rainy: a tensor of shape :math:`(*, H, W)`, typically :math:`(C, H, W)`.
        clean: a tensor of the same shape.
        rng: the random source (``random`` module state when ``None``).

    Returns:
        The two tensors, flipped the same way.

    Raises:
        TypeError: an image is not a real-valued tensor.
        ValueError: the shapes differ, or an image has fewer than 2 dimensions or a zero-size
            one.

    Example:
        >>> a, b = paired_random_flip(torch.rand(3, 4, 4), torch.rand(3, 4, 4))
        >>> a.shape
        torch.Size([3, 4, 4])
    """
    _check_pair(rainy, clean)
    uniform = rng.random if rng is not None else random.random  # else the global generator
    if uniform() < 0.5:
        rainy, clean = rainy.flip(-1), clean.flip(-1)
    if uniform() < 0.5:
        rainy, clean = rainy.flip(-2), clean.flip(-2)
    return rainy, clean


def _check_pair(rainy: object, clean: object) -> None:
    """Both are real-valued, non-empty :math:`(*, H, W)` tensors of the same shape."""
    check_same_shape(check_raster(rainy, "rainy"), check_raster(clean, "clean"),
                     ("rainy", "clean"))

"""Paired random crops and flips applied identically to a rainy image and its clean target."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

__all__ = ["pad_to_size", "paired_random_crop", "paired_random_flip"]


def pad_to_size(image: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect-pad an image on the bottom and right so both sides are at least ``size``.

    Reflection needs the padding to be smaller than the side, so very small images are padded
    in several rounds.

    Args:
        image: a tensor of shape :math:`(C, H, W)`.
        size: the minimum height and width.

    Returns:
        A tensor of shape :math:`(C, \\max(H, s), \\max(W, s))`; unchanged when large enough.

    Example:
        >>> pad_to_size(torch.zeros(3, 5, 9), 8).shape
        torch.Size([3, 8, 9])
    """
    while image.shape[-2] < size or image.shape[-1] < size:
        pad_h = min(size - image.shape[-2], image.shape[-2] - 1) if image.shape[-2] < size else 0
        pad_w = min(size - image.shape[-1], image.shape[-1] - 1) if image.shape[-1] < size else 0
        if image.shape[-2] == 1 or image.shape[-1] == 1:
            mode = "replicate"
            pad_h = max(size - image.shape[-2], 0)
            pad_w = max(size - image.shape[-1], 0)
        else:
            mode = "reflect"
        image = F.pad(image[None], (0, pad_w, 0, pad_h), mode=mode)[0]
    return image


def paired_random_crop(
    rainy: torch.Tensor, clean: torch.Tensor, size: int, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop the same random ``size`` x ``size`` window from both images.

    Images smaller than ``size`` are first reflect-padded with :func:`pad_to_size`.

    Args:
        rainy: a tensor of shape :math:`(C, H, W)`.
        clean: a tensor of the same height and width.
        size: the side of the square crop.
        rng: the random source (``random`` module state when ``None``).

    Returns:
        Two tensors of shape :math:`(C, s, s)`.

    Example:
        >>> a, b = paired_random_crop(torch.rand(3, 10, 12), torch.rand(3, 10, 12), 4)
        >>> a.shape, b.shape
        (torch.Size([3, 4, 4]), torch.Size([3, 4, 4]))
    """
    if rainy.shape[-2:] != clean.shape[-2:]:
        raise ValueError(
            f"rainy and clean must have the same height and width, got {tuple(rainy.shape)} "
            f"and {tuple(clean.shape)}"
        )
    rng = rng if rng is not None else random
    rainy, clean = pad_to_size(rainy, size), pad_to_size(clean, size)
    top = rng.randint(0, rainy.shape[-2] - size)
    left = rng.randint(0, rainy.shape[-1] - size)
    window = (..., slice(top, top + size), slice(left, left + size))
    return rainy[window], clean[window]


def paired_random_flip(
    rainy: torch.Tensor, clean: torch.Tensor, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip both images horizontally, then vertically, each with probability 1/2.

    Args:
        rainy: a tensor of shape :math:`(C, H, W)`.
        clean: a tensor of shape :math:`(C, H, W)`.
        rng: the random source (``random`` module state when ``None``).

    Returns:
        The two tensors, flipped the same way.

    Example:
        >>> a, b = paired_random_flip(torch.rand(3, 4, 4), torch.rand(3, 4, 4))
        >>> a.shape
        torch.Size([3, 4, 4])
    """
    rng = rng if rng is not None else random
    if rng.random() < 0.5:
        rainy, clean = rainy.flip(-1), clean.flip(-1)
    if rng.random() < 0.5:
        rainy, clean = rainy.flip(-2), clean.flip(-2)
    return rainy, clean

"""Private helpers shared by the networks of :mod:`rainkit.nn`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._validation import check_image_tensor, check_int, check_module_dtype

__all__ = [
    "check_kernel_size",
    "check_network_input",
    "downsample",
    "last_conv",
    "resize_to",
]


def check_network_input(
    x: object, in_channels: int, module: nn.Module | None = None, name: str = "input"
) -> torch.Tensor:
    """Check that ``x`` is a non-empty floating-point :math:`(B, C_{in}, H, W)` tensor.

    With ``module``, also that ``x`` has the dtype of its parameters (a float64 input to a
    float32 network is a :class:`TypeError` that says how to convert one or the other, instead
    of a crash inside the first convolution); under :func:`torch.autocast` any floating dtype
    goes through.
    """
    tensor = check_image_tensor(x, name, ndims=(4,), channels=in_channels)
    if module is not None:
        check_module_dtype(tensor, module, name)
    return tensor


def check_kernel_size(kernel_size: object) -> int:
    """Raise unless ``kernel_size`` is a positive odd int (so padding keeps the size)."""
    k = check_int(kernel_size, "kernel_size", minimum=1)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd so that the output keeps its size, got {k}")
    return k


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool by ``factor`` to :math:`(\\lceil H/f \\rceil, \\lceil W/f \\rceil)`.

    Adaptive pooling, so any size works (1x1 and odd sizes included).
    """
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    return F.adaptive_avg_pool2d(x, (math.ceil(h / factor), math.ceil(w / factor)))


def resize_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinearly resize ``x`` to exactly ``size`` (no-op when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def last_conv(module: nn.Module) -> nn.Conv2d:
    """The last :class:`~torch.nn.Conv2d` registered in ``module``."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1]

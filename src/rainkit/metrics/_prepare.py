"""Shared preparation of metric inputs: type dispatch, dtype, data range, border crop, luma."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rainkit._validation import (
    check_image_tensor,
    check_int,
    check_positive,
    check_reduction,
    check_same_shape,
    reduce,
)
from rainkit.metrics.color import rgb_to_y

__all__ = ["Prepared", "check_options", "finish", "prepare"]

_INT_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass
class Prepared:
    """Inputs as ``(B, C, H, W)`` floating tensors, the data range and how to return results."""

    input: torch.Tensor
    target: torch.Tensor
    data_range: float
    numpy: bool


def check_options(data_range: object, crop_border: object, y_channel: object,
                  reduction: object) -> None:
    """Validate the options shared by every metric (no input needed)."""
    if data_range is not None:
        check_positive(data_range, "data_range")
    check_int(crop_border, "crop_border", minimum=0)
    if not isinstance(y_channel, bool):
        raise TypeError(f"y_channel must be a bool, got {type(y_channel).__name__}")
    check_reduction(reduction)


def _numpy_to_tensor(array: np.ndarray, name: str) -> tuple[torch.Tensor, float]:
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be a numpy array of shape (H, W) or (H, W, C), got a {array.ndim}-D "
            f"array of shape {array.shape}"
        )
    if array.dtype in _INT_RANGES:
        default_range = _INT_RANGES[array.dtype]
    elif np.issubdtype(array.dtype, np.floating):
        default_range = 1.0
    else:
        raise TypeError(
            f"{name} must be a numpy array of dtype uint8, uint16 or float, got {array.dtype}"
        )
    if array.size == 0:  # the mean of nothing is NaN
        raise ValueError(f"{name} must not be empty, got shape {array.shape} (a zero-size "
                         "dimension)")
    tensor = torch.from_numpy(np.asarray(array, dtype=np.float64))
    tensor = tensor[None] if array.ndim == 2 else tensor.permute(2, 0, 1)
    return tensor.unsqueeze(0), default_range


def prepare(input: object, target: object, *, data_range: float | None, crop_border: int,
            y_channel: bool, reduction: str) -> Prepared:
    """Check and convert ``(input, target)`` for a metric; see :func:`rainkit.metrics.psnr`."""
    check_options(data_range, crop_border, y_channel, reduction)
    if isinstance(input, np.ndarray) and isinstance(target, np.ndarray):
        if input.shape != target.shape:
            raise ValueError(
                f"input and target must have the same shape, got {input.shape} and {target.shape}"
            )
        if input.dtype != target.dtype:
            raise TypeError(
                f"input and target must have the same dtype, got {input.dtype} and {target.dtype}"
            )
        x, default_range = _numpy_to_tensor(input, "input")
        y, _ = _numpy_to_tensor(target, "target")
        is_numpy = True
    elif isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor):
        x = check_image_tensor(input, "input", ndims=(3, 4))
        y = check_image_tensor(target, "target", ndims=(3, 4))
        check_same_shape(x, y)
        if x.dtype != y.dtype:
            raise TypeError(
                f"input and target must have the same dtype, got {x.dtype} and {y.dtype}"
            )
        if x.device != y.device:
            raise ValueError(
                f"input and target must be on the same device, got {x.device} and {y.device}"
            )
        if x.ndim == 3:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        if x.dtype in (torch.float16, torch.bfloat16):
            x, y = x.float(), y.float()
        default_range = 1.0
        is_numpy = False
    else:
        raise TypeError(
            "input and target must be both torch.Tensor or both numpy.ndarray, got "
            f"{type(input).__name__} and {type(target).__name__}"
        )
    scale = default_range if data_range is None else float(data_range)
    if y_channel:
        if x.shape[1] != 3:
            raise ValueError(
                f"y_channel=True expects 3 RGB channels, got {x.shape[1]} channels "
                f"(input shape {tuple(input.shape)})"  # type: ignore[union-attr]
            )
        x, y = rgb_to_y(x, scale), rgb_to_y(y, scale)
    if crop_border:
        height, width = x.shape[-2:]
        if 2 * crop_border >= min(height, width):
            raise ValueError(
                f"crop_border must leave at least one pixel, expected crop_border < "
                f"{(min(height, width) + 1) // 2} for a {height}x{width} image, got {crop_border}"
            )
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
    return Prepared(x, y, scale, is_numpy)


def finish(
    values: torch.Tensor, reduction: str, is_numpy: bool
) -> torch.Tensor | float | np.ndarray:
    """Reduce per-image ``values`` and convert them back to numpy / Python float for arrays."""
    out = reduce(values, reduction)  # type: ignore[arg-type]
    if not is_numpy:
        return out
    out = out.detach()
    return out.numpy() if reduction == "none" else float(out)

"""Shared preparation of metric inputs: type dispatch, dtype, data range, border crop, luma."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from rainkit._checks import (
    Reduction,
    check_finite,
    check_image_tensor,
    check_int,
    check_positive,
    check_reduction,
    check_same_shape,
    reduce,
)
from rainkit.metrics.color import rgb_to_y
from rainkit.metrics.conventions import QUANTIZE_MODES, ScoringConvention, resolve_convention

__all__ = [
    "Options",
    "Prepared",
    "Tensors",
    "apply_options",
    "check_options",
    "check_peak",
    "check_window_conflicts",
    "finish",
    "prepare",
    "to_tensors",
]

_INT_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass
class Tensors:
    """An input pair converted once: ``(B, C, H, W)`` floating tensors, before any convention."""

    input: torch.Tensor
    target: torch.Tensor
    data_range: float
    numpy: bool
    shape: tuple[int, ...]  # the input's shape as given, for messages


@dataclass
class Prepared:
    """Inputs as ``(B, C, H, W)`` floating tensors, the data range and how to return results."""

    input: torch.Tensor
    target: torch.Tensor
    data_range: float
    numpy: bool


@dataclass(frozen=True)
class Options:
    """The options of a metric call after a convention (if any) has been applied."""

    data_range: float | None
    crop_border: int
    y_channel: bool
    round_y: bool
    quantize: str | None
    convention: ScoringConvention | None


def _conflict(option: str, value: object, convention: ScoringConvention, fixed: object,
              what: str) -> ValueError:
    return ValueError(
        f"{option}={value!r} contradicts convention {convention.name!r}, which {what} "
        f"({option}={fixed!r}); leave {option} unset or use convention=None"
    )


def check_options(data_range: object, crop_border: object, y_channel: object,
                  reduction: object, *, convention: object = None,
                  quantize: object = None) -> Options:
    """Validate the options shared by every metric (no input needed) and apply a convention.

    ``crop_border`` and ``y_channel`` may be ``None`` ("not given"): they then take the
    convention's value, or ``0`` and ``False`` without one. An explicit value that contradicts
    the convention raises :class:`ValueError`. (SSIM's window options are checked against the
    convention by :func:`check_window_conflicts`.)
    """
    scale = None if data_range is None else check_positive(data_range, "data_range")
    if scale is not None:
        check_peak(scale, torch.float64)  # the widest dtype scored in; float32 at the call
    border = None if crop_border is None else check_int(crop_border, "crop_border", minimum=0)
    if y_channel is not None and not isinstance(y_channel, bool):
        raise TypeError(f"y_channel must be a bool, got {type(y_channel).__name__}")
    check_reduction(reduction)
    if quantize is not None and quantize not in QUANTIZE_MODES:
        listed = ", ".join(repr(m) for m in QUANTIZE_MODES)
        raise ValueError(f"quantize must be None or one of {listed}, got {quantize!r}")
    if convention is None:
        return Options(scale, border or 0, bool(y_channel), False, quantize, None)
    conv = resolve_convention(convention)
    if y_channel is not None and y_channel != conv.y_channel:
        what = "scores the Y channel" if conv.y_channel else "scores the RGB channels"
        raise _conflict("y_channel", y_channel, conv, conv.y_channel, what)
    if conv.crop_border is not None and border is not None and border != conv.crop_border:
        raise _conflict("crop_border", border, conv, conv.crop_border, "uses a fixed border")
    if border is None:
        border = conv.crop_border or 0
    return Options(scale, border, conv.y_channel, conv.round_y, quantize, conv)


def check_peak(data_range: float, dtype: torch.dtype) -> None:
    """Raise :class:`ValueError` unless :math:`L^2` (``data_range`` squared, the peak power of
    PSNR and the scale of every squared difference) is finite in ``dtype``: images on a scale
    whose square overflows the dtype cannot be scored in it (about 1.8e19 for float32,
    1.3e154 for float64). No tensor is read."""
    info = torch.finfo(dtype)
    if data_range * data_range <= info.max:  # Python floats: inf rather than an error
        return
    name = str(dtype).removeprefix("torch.")
    raise ValueError(
        f"data_range={data_range:g} is too large for {name} images: its square L^2 = "
        f"{data_range * data_range:.3g} exceeds {name}'s largest value {info.max:.3g} (data_range "
        f"<= {math.sqrt(info.max):.3g}); give data_range as the images' scale (1.0 for [0, 1], "
        f"255 for 0-255)"
    )


def check_window_conflicts(convention: ScoringConvention, **given: object) -> None:
    """Raise :class:`ValueError` if an explicitly given SSIM option (``window_size=7``; ``None``
    means not given) differs from the convention's."""
    for name, value in given.items():
        want = getattr(convention, name)
        if value is not None and value != want:
            raise _conflict(name, value, convention, want, "fixes the SSIM settings of its script")


def _quantize(x: torch.Tensor, scale: float, mode: str) -> torch.Tensor:
    """Snap ``x`` (on the scale ``[0, scale]``) to the 256 levels of an 8-bit file."""
    steps = x.clamp(0.0, scale) * (255.0 / scale)
    steps = torch.round(steps) if mode == "round" else torch.floor(steps)
    return steps * (scale / 255.0)


# MATLAB's rgb2ycbcr for uint8 images: T = (1/255) * [65.481 128.553 24.966], offset 16, each
# pixel computed by imlincomb as T(1) R + T(2) G + T(3) B + 16 in double, then converted to uint8.
_MATLAB_Y = ((1 / 255) * 65.481, (1 / 255) * 128.553, (1 / 255) * 24.966)


def _matlab_y_uint8(rgb: torch.Tensor, scale: float) -> torch.Tensor:
    """Luma of 8-bit RGB as MATLAB's ``rgb2ycbcr`` returns it for a ``uint8`` image.

    ``rgb`` holds values on the 8-bit grid of ``[0, scale]``; they are mapped to integers
    0-255, :math:`Y = T_1 R + T_2 G + T_3 B + 16` is evaluated in float64 in MATLAB's order and
    rounded half away from zero (MATLAB's ``uint8`` conversion; ``Y`` lies in ``[16, 235]``, so
    nothing saturates). The result is returned on the input's scale and dtype.
    """
    # float64 keeps luma exact to ~1e-13, so only true half-integers can round either way
    # (MPS has no float64: float32 there, still exact for the integer RGB of 8-bit data to
    # ~1e-5, which can misround a luma within 1e-5 of a half-integer)
    wide = torch.float32 if rgb.device.type == "mps" else torch.float64
    r, g, b = torch.round(rgb.to(wide) * (255.0 / scale)).unbind(1)
    y255 = r * _MATLAB_Y[0] + g * _MATLAB_Y[1] + b * _MATLAB_Y[2] + 16.0
    low = torch.floor(y255)
    y255 = torch.where(y255 - low >= 0.5, low + 1.0, low)
    return (y255 * (scale / 255.0)).unsqueeze(1).to(rgb.dtype)


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
    # numpy inputs return numbers, which are read anyway: a NaN pixel is an error there
    # (rainkit._checks's non-finite policy)
    check_finite(tensor, name)
    tensor = tensor[None] if array.ndim == 2 else tensor.permute(2, 0, 1)
    return tensor.unsqueeze(0), default_range


def _common_dtype(x: torch.Tensor, y: torch.Tensor) -> torch.dtype:
    """The dtype both images are scored in: the wider of two floating dtypes (float32 with
    float64 gives float64), float32 for float16/bfloat16."""
    dtype = torch.promote_types(x.dtype, y.dtype)
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def to_tensors(input: object, target: object, data_range: float | None, *,
               finite: bool = False) -> Tensors:
    """Check ``(input, target)`` and convert them once to ``(B, C, H, W)`` floating tensors.

    numpy arrays: ``(H, W)`` or ``(H, W, C)`` of uint8, uint16 or float (float32 and float64
    may be mixed), converted to float64 and checked to be finite. Tensors: ``(B, C, H, W)`` or
    ``(C, H, W)``, floating, on one device; float32 with float64 is computed in float64,
    float16/bfloat16 in float32. ``finite=True`` also checks tensors for NaN and infinities
    (one device synchronisation).
    """
    if isinstance(input, np.ndarray) and isinstance(target, np.ndarray):
        if input.shape != target.shape:
            raise ValueError(
                f"input and target must have the same shape, got {input.shape} and {target.shape}"
            )
        both_float = (np.issubdtype(input.dtype, np.floating)
                      and np.issubdtype(target.dtype, np.floating))
        if input.dtype != target.dtype and not both_float:
            raise TypeError(
                f"input and target must have the same dtype (or both be floating), got "
                f"{input.dtype} and {target.dtype}"
            )
        x, default_range = _numpy_to_tensor(input, "input")
        y, _ = _numpy_to_tensor(target, "target")
        is_numpy = True
        shape: tuple[int, ...] = tuple(input.shape)
    elif isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor):
        x = check_image_tensor(input, "input", ndims=(3, 4))
        y = check_image_tensor(target, "target", ndims=(3, 4))
        check_same_shape(x, y)
        if x.device != y.device:
            raise ValueError(
                f"input and target must be on the same device, got {x.device} and {y.device}"
            )
        if finite:
            check_finite(x, "input")
            check_finite(y, "target")
        shape = tuple(x.shape)
        if x.ndim == 3:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        dtype = _common_dtype(x, y)
        x, y = x.to(dtype), y.to(dtype)
        default_range = 1.0
        is_numpy = False
    else:
        raise TypeError(
            "input and target must be both torch.Tensor or both numpy.ndarray, got "
            f"{type(input).__name__} and {type(target).__name__}"
        )
    scale = default_range if data_range is None else float(data_range)
    return Tensors(x, y, scale, is_numpy, shape)


def apply_options(tensors: Tensors, opts: Options) -> tuple[torch.Tensor, torch.Tensor]:
    """What a convention (or the plain options) does before the metric: the 8-bit snap or
    ``quantize`` (``input`` only), luma (rounded if the convention says so), border crop."""
    x, y, scale = tensors.input, tensors.target, tensors.data_range
    if opts.round_y:
        # The script reads 8-bit files: snap both images to the 8-bit grid (exact for data
        # that came from 8-bit files; the input by ``quantize`` when given).
        x = _quantize(x, scale, opts.quantize or "round")
        y = _quantize(y, scale, "round")
    elif opts.quantize is not None:
        x = _quantize(x, scale, opts.quantize)
    if opts.y_channel:
        if x.shape[1] != 3:
            source = "y_channel=True" if opts.convention is None else \
                f"convention {opts.convention.name!r} (Y channel)"
            raise ValueError(
                f"{source} expects 3 RGB channels, got {x.shape[1]} channels "
                f"(input shape {tensors.shape})"
            )
        if opts.round_y:
            x, y = _matlab_y_uint8(x, scale), _matlab_y_uint8(y, scale)
        else:
            x, y = rgb_to_y(x, scale), rgb_to_y(y, scale)
    border = opts.crop_border
    if border:
        height, width = x.shape[-2:]
        if 2 * border >= min(height, width):
            raise ValueError(
                f"crop_border must leave at least one pixel, expected crop_border < "
                f"{(min(height, width) + 1) // 2} for a {height}x{width} image, got {border}"
            )
        x = x[..., border:-border, border:-border]
        y = y[..., border:-border, border:-border]
    return x, y


def prepare(input: object, target: object, *, data_range: float | None,
            crop_border: int | None, y_channel: bool | None, reduction: str,
            convention: str | ScoringConvention | None = None,
            quantize: str | None = None) -> Prepared:
    """Check and convert ``(input, target)`` for one metric call; see
    :func:`rainkit.metrics.psnr`: :func:`check_options`, :func:`to_tensors`,
    :func:`apply_options`."""
    opts = check_options(data_range, crop_border, y_channel, reduction, convention=convention,
                         quantize=quantize)
    tensors = to_tensors(input, target, data_range)
    x, y = apply_options(tensors, opts)
    return Prepared(x, y, tensors.data_range, tensors.numpy)


def finish(
    values: torch.Tensor, reduction: Reduction, is_numpy: bool
) -> torch.Tensor | float | np.ndarray:
    """Reduce per-image ``values`` and convert them back to numpy / Python float for arrays."""
    out = reduce(values, reduction)
    if not is_numpy:
        return out
    out = out.detach()
    return out.numpy() if reduction == "none" else float(out)

"""Private helpers shared by the networks of :mod:`rainkit.nn`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_image_tensor, check_int, check_module_dtype

__all__ = [
    "check_kernel_size",
    "check_layer_type",
    "check_network_input",
    "downsample",
    "last_conv",
    "make_layer",
    "pool_to_grid",
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
        if module.training and tensor.shape[0] * tensor.shape[-2] * tensor.shape[-1] == 1:
            _check_batch_norm_batch(tensor, module, name)
    return tensor


def _check_batch_norm_batch(x: torch.Tensor, module: nn.Module, name: str) -> None:
    """Raise ValueError if training-mode BatchNorm in ``module`` would see one value per channel
    (a batch of one 1x1 image): its variance is undefined. Shape-only, no device sync."""
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
           for m in module.modules()):
        raise ValueError(
            f"{name} of shape {tuple(x.shape)} gives {type(module).__name__}'s BatchNorm a "
            f"single value per channel in training mode (a batch of one 1x1 image), whose "
            f"variance is undefined; train on a larger batch or crop, or call .eval()"
        )


def check_layer_type(value: object, name: str, *, optional: bool = False) -> None:
    """Raise TypeError unless ``value`` is a layer type or factory (a callable), or ``None``
    when ``optional``; a string such as ``"batch"`` is not looked up (there is no registry of
    layer names), it is refused with the expected form."""
    if value is None and optional:
        return
    if isinstance(value, str) or not callable(value):
        allowed = "a layer type such as nn.BatchNorm2d (any callable), or None" if optional \
            else "a layer type such as nn.ReLU (any callable)"
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r:.40}")


def make_layer(factory: Callable[..., object], name: str, *args: int) -> nn.Module:
    """Call the layer factory ``factory(*args)`` and check that it built an nn.Module."""
    layer = factory(*args)
    if not isinstance(layer, nn.Module):
        raise TypeError(f"{name} must build an nn.Module, but {name}({', '.join(map(str, args))})"
                        f" returned {type(layer).__name__}")
    return layer


def check_kernel_size(kernel_size: object) -> int:
    """Raise unless ``kernel_size`` is a positive odd int (so padding keeps the size)."""
    k = check_int(kernel_size, "kernel_size", minimum=1)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd so that the output keeps its size, got {k}")
    return k


def _window_bounds(i: torch.Tensor, n: int, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end (exclusive) of windows ``i`` of adaptive pooling of ``n`` values to ``bins``.

    Window :math:`i` covers :math:`[\\lfloor i n / o \\rfloor, \\lceil (i + 1) n / o \\rceil)`,
    the rule of :func:`torch.nn.functional.adaptive_avg_pool2d`. Tensor and integer arithmetic
    only, so tracing and export keep ``n`` (and ``bins`` when it comes from a size) symbolic.
    """
    start = torch.div(i * n, bins, rounding_mode="floor")
    end = torch.div((i + 1) * n + bins - 1, bins, rounding_mode="floor")
    return start, end


def _pool_axis(x: torch.Tensor, dim: int, bins: int, width: int) -> torch.Tensor:
    """Adaptive average pooling of :math:`(B, C, H, W)` ``x`` to ``bins`` along ``dim`` (-2 or -1).

    No window may hold more than ``width`` values: window :math:`i` gathers ``width`` indices
    from its start, clamped to the window, and masks those past its end.
    """
    n = x.shape[dim]
    flat = torch.arange(bins * width, device=x.device)
    window = torch.div(flat, width, rounding_mode="floor")
    start, end = _window_bounds(window, n, bins)
    idx = start + flat % width
    valid = (idx < end).view(-1, width)
    # Weights, and so the result, in at least float32: a half-precision ``x`` is rounded once,
    # at the end of :func:`downsample`.
    weight = (1.0 / (end - start).to(torch.promote_types(x.dtype, torch.float32))).view(-1, width)
    idx = torch.minimum(idx, end - 1).view(-1, width)
    if dim == -2:
        gathered = x[:, :, idx]  # (B, C, bins, width, W)
        valid, weight = valid[:, :, None], weight[:, :, None]
    else:
        gathered = x[:, :, :, idx]  # (B, C, H, bins, width)
    return (torch.where(valid, gathered, 0.0) * weight).sum(dim)


def _downsample_by_gathers(x: torch.Tensor, factor: int) -> torch.Tensor:
    """:func:`downsample` (``factor >= 2``) as two gathers of :math:`f + 1` rows, then columns.

    No window of adaptive pooling from :math:`n` to :math:`\\lceil n / f \\rceil` is longer
    than :math:`f + 1`. Only tensor and integer arithmetic on the symbolic size, so a trace or an
    exported graph computes the windows of whatever size comes.
    """
    h, w = x.shape[-2], x.shape[-1]
    rows = _pool_axis(x, -2, (h + factor - 1) // factor, factor + 1)
    return _pool_axis(rows, -1, (w + factor - 1) // factor, factor + 1).to(x.dtype)


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool by ``factor`` to :math:`(\\lceil H/f \\rceil, \\lceil W/f \\rceil)`.

    The windows of :func:`torch.nn.functional.adaptive_avg_pool2d`, so any size works (1x1 and
    odd sizes included). Eager and scripted code call ``adaptive_avg_pool2d`` itself (the fastest:
    the gathers made DerainNet's CPU training step 7-10% slower); under ``torch.jit.trace``,
    ``torch.export``, ONNX export and ``torch.compile``, which would freeze the windows of the
    example size, :func:`_downsample_by_gathers` computes the same values (up to float rounding)
    from the symbolic size.
    """
    if factor == 1:
        return x
    # TorchScript skips the body of `if not torch.jit.is_scripting()` only in this spelling
    if not torch.jit.is_scripting():
        tracing = torch.jit.is_tracing()
        if tracing or torch.compiler.is_compiling():
            return _downsample_by_gathers(x, factor)
    h, w = x.shape[-2], x.shape[-1]
    return F.adaptive_avg_pool2d(x, ((h + factor - 1) // factor, (w + factor - 1) // factor))


def _window_matrix(n: int, bins: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:math:`(o, n)` 0/1 matrix whose row :math:`i` selects adaptive-pooling window :math:`i`."""
    start, end = _window_bounds(torch.arange(bins, device=device), n, bins)
    j = torch.arange(n, device=device)
    return ((j >= start[:, None]) & (j < end[:, None])).to(dtype)


def pool_to_grid(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Average-pool :math:`(B, C, H, W)` to :math:`(B, C, b, b)` with adaptive-pooling windows.

    The values of ``F.adaptive_avg_pool2d(x, bins)`` up to float rounding, computed as window
    sums :math:`P_H \\, x \\, P_W^\\top` with 0/1 window matrices built from the tensor's
    symbolic size (:math:`b (H + b) W` multiply-adds per channel, a few per pixel for small
    ``bins``), so tracing and ONNX export work at every size.
    """
    h, w = x.shape[-2], x.shape[-1]
    rows = _window_matrix(h, bins, x.dtype, x.device)
    cols = _window_matrix(w, bins, x.dtype, x.device)
    sums = torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))
    return sums / (rows.sum(1)[:, None] * cols.sum(1))


def resize_to(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Bilinearly resize ``x`` to exactly ``size`` :math:`(H, W)` (a list or ``torch.Size``).

    There is no shortcut in Python for ``x`` already of that size (bilinear resizing to the same
    size returns the values unchanged): a size comparison would be frozen into a trace or an
    exported graph, or turn into a guard on the symbolic sizes.
    """
    return F.interpolate(x, size=(size[0], size[1]), mode="bilinear", align_corners=False)


def last_conv(module: nn.Module) -> nn.Conv2d:
    """The last :class:`~torch.nn.Conv2d` registered in ``module``."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1]

"""Private dilated-convolution helpers with the oneDNN fast path of :mod:`._fused_conv`."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from rainkit.nn.blocks._fused_conv import _OP, activate, fused_inference

__all__ = ["conv2d_dilated", "conv2d_dilated_add", "fused_inference"]


def conv2d_dilated(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    dilation: int = 1,
    act: Literal["relu", "sigmoid", "tanh"] | None = None,
    *,
    fused: bool = False,
) -> torch.Tensor:
    """:math:`\\operatorname{act}(W * x + b)`: stride 1, dilation :math:`d`, 'same' zero padding
    :math:`d (k - 1) / 2` (odd kernels); with ``fused=True`` (only where
    :func:`fused_inference` holds) one oneDNN call with the activation fused in."""
    padding = dilation * (weight.shape[-1] - 1) // 2
    if fused:
        out: torch.Tensor = _OP(
            x, weight, bias, [padding, padding], [1, 1], [dilation, dilation], 1, act or "none",
            [], None)
        return out
    return activate(F.conv2d(x, weight, bias, padding=padding, dilation=dilation), act)


def conv2d_dilated_add(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    other: torch.Tensor,
    dilation: int = 1,
    act: Literal["relu"] | None = None,
    *,
    fused: bool = False,
) -> torch.Tensor:
    """:math:`\\operatorname{act}(W * x + b + \\text{other})`; fused as in
    :func:`conv2d_dilated` (``other`` in the layout of ``x``)."""
    padding = dilation * (weight.shape[-1] - 1) // 2
    if fused:
        out: torch.Tensor = _OP.binary(
            x, other, weight, bias, [padding, padding], [1, 1], [dilation, dilation], 1, "add",
            None, act, [], None)
        return out
    y = F.conv2d(x, weight, bias, padding=padding, dilation=dilation) + other
    return y if act is None else torch.relu(y)

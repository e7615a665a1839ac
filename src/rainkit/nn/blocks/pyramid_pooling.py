"""Pyramid pooling: global and regional context in one layer (PSPNet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import (
    check_layer_type,
    check_network_input,
    make_layer,
    pool_to_grid,
    resize_to,
)

__all__ = ["PyramidPooling"]


class PyramidPooling(nn.Module):
    """Parallel adaptive average pools, a 1x1 convolution each, upsampled and concatenated.

    For each bin count :math:`b` the input is average-pooled to :math:`b \\times b` cells, mapped
    by a 1x1 convolution and activation to :math:`C_b` channels, and bilinearly upsampled to the
    exact input size; the results are concatenated with the input:

    .. math::

        y = \\big[\\, x,\\; \\operatorname{up}(\\phi(W_{b_1} * \\operatorname{pool}_{b_1}(x))),
        \\;\\dots \\big].

    The bin-1 branch summarises the whole image, so every output pixel depends on every input
    pixel (a global receptive field) for the cost of a few 1x1 convolutions. The pooling has the
    windows of :func:`torch.nn.functional.adaptive_avg_pool2d` but computes them from the
    input's size with tensor arithmetic, so a trace or an ONNX export works at every size.

    Args:
        in_channels: input channels :math:`C`.
        bins: output grid size of each pooling branch, each ``>= 1``.
        branch_channels: channels :math:`C_b` of each branch; default
            ``max(1, in_channels // len(bins))``.
        act_layer: activation layer type after each 1x1 convolution.

    Shape:
        - Input: :math:`(B, C, H, W)`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C + n_{bins} C_b, H, W)`; ``out_channels`` holds the count.

    Example:
        >>> import torch
        >>> from rainkit.nn import PyramidPooling
        >>> ppm = PyramidPooling(32, bins=(1, 2, 3, 6))
        >>> ppm.out_channels
        64
        >>> ppm(torch.rand(2, 32, 7, 13)).shape
        torch.Size([2, 64, 7, 13])

    References:
        H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia, "Pyramid Scene Parsing Network", CVPR 2017.
    """

    def __init__(
        self,
        in_channels: int,
        bins: Sequence[int] = (1, 2, 3, 6),
        *,
        branch_channels: int | None = None,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        if isinstance(bins, (str, bytes)) or not isinstance(bins, Sequence):
            raise TypeError(f"bins must be a sequence of ints, got {type(bins).__name__}")
        if len(bins) == 0:
            raise ValueError("bins must contain at least one bin count, got an empty sequence")
        self.bins = tuple(check_int(b, "bin", minimum=1) for b in bins)
        if branch_channels is None:
            branch_channels = max(1, in_channels // len(self.bins))
        self.branch_channels = check_int(branch_channels, "branch_channels", minimum=1)
        self.out_channels = self.in_channels + len(self.bins) * self.branch_channels
        check_layer_type(act_layer, "act_layer")
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, self.branch_channels, 1),
                          make_layer(act_layer, "act_layer"))
            for _ in self.bins
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles neither the check nor its messages
            check_network_input(x, self.in_channels, self)
        size = list(x.shape[-2:])
        outs = [x]
        for b, branch in zip(self.bins, self.branches):
            outs.append(resize_to(branch(pool_to_grid(x, b)), size))
        return torch.cat(outs, dim=1)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, bins={self.bins}, "
                f"branch_channels={self.branch_channels}")

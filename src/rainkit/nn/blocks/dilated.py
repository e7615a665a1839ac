"""Dilated residual stack: a wide receptive field without downsampling."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_network_input
from rainkit.nn.blocks.residual import ResidualBlock

__all__ = ["DilatedResidualStack"]


class DilatedResidualStack(nn.Module):
    """A sequence of :class:`ResidualBlock` with one dilation rate each.

    Every block has the same parameters (two :math:`k \\times k` convolutions of :math:`C`
    channels) whatever its dilation, but a block of dilation :math:`d` widens the receptive field
    by :math:`2 d (k - 1)` instead of :math:`2 (k - 1)`. With :math:`k = 3`:

    .. math::

        \\text{RF} = 1 + 4 \\sum_i d_i,

    so rates ``(1, 2, 4, 8)`` see 61 x 61 pixels, against 17 x 17 for four undilated blocks
    of the same cost, at full resolution (no pooling, no loss of detail).

    Args:
        channels: number of input and output channels :math:`C`.
        dilations: dilation rate of each block, in order, each ``>= 1``.
        norm_layer: normalisation layer type for the blocks, or ``None``.
        act_layer: activation layer type for the blocks.
        kernel_size: odd kernel size of every convolution.
        activate_after_add: passed to every :class:`ResidualBlock`.

    Shape:
        - Input: :math:`(B, C, H, W)`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn import DilatedResidualStack, receptive_field
        >>> stack = DilatedResidualStack(8, dilations=(1, 2, 4, 8))
        >>> stack(torch.rand(1, 8, 5, 9)).shape
        torch.Size([1, 8, 5, 9])
        >>> receptive_field(stack, in_channels=8, size=81)
        (61, 61)

    References:
        F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
    """

    def __init__(
        self,
        channels: int,
        dilations: Sequence[int] = (1, 2, 4, 8),
        *,
        norm_layer: Callable[[int], nn.Module] | None = None,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        kernel_size: int = 3,
        activate_after_add: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence):
            raise TypeError(f"dilations must be a sequence of ints, got {type(dilations).__name__}")
        if len(dilations) == 0:
            raise ValueError("dilations must contain at least one rate, got an empty sequence")
        self.dilations = tuple(check_int(d, "dilation", minimum=1) for d in dilations)
        self.channels = check_int(channels, "channels", minimum=1)
        self.blocks = nn.Sequential(*(
            ResidualBlock(channels, norm_layer=norm_layer, act_layer=act_layer, dilation=d,
                          kernel_size=kernel_size, activate_after_add=activate_after_add)
            for d in self.dilations
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles neither the check nor its messages
            check_network_input(x, self.channels, self)
        out: torch.Tensor = self.blocks(x)
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, dilations={self.dilations}"

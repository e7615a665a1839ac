"""MPRNet's original-resolution block (ORB), the unit of its last stage, ORSNet."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_kernel_size, check_layer_type, check_network_input
from rainkit.nn.blocks._fused_conv import fused_inference
from rainkit.nn.blocks.channel_attention import ChannelAttentionBlock

__all__ = ["OriginalResolutionBlock"]


class OriginalResolutionBlock(nn.Module):
    """Original-resolution block (ORB): channel-attention blocks, a convolution, a skip.

    .. math::

        y = x + W * \\operatorname{CAB}_n(\\cdots \\operatorname{CAB}_1(x))

    with :math:`n` :class:`~rainkit.nn.blocks.ChannelAttentionBlock` and a 'same' convolution
    :math:`W` without bias; no resampling, so the features keep the full resolution (MPRNet's
    ORSNet chains three of them). Parameters ``body.0`` ... ``body.{n-1}`` (the CABs) and
    ``body.{n}`` (:math:`W`) as in the authors' files.

    Args:
        channels: channels :math:`C`.
        num_cab: number :math:`n` of channel-attention blocks.
        kernel_size: odd kernel size of every convolution.
        reduction: reduction of the channel attention.
        bias: whether the convolutions of the CABs have a bias (:math:`W` never has one, as in
            the authors' code).
        act_layer: activation of the CABs: a type, or a module instance to share.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import OriginalResolutionBlock
        >>> OriginalResolutionBlock(8, num_cab=2)(torch.rand(1, 8, 9, 5)).shape
        torch.Size([1, 8, 9, 5])

    References:
        S. W. Zamir et al., "Multi-Stage Progressive Image Restoration", CVPR 2021, section 3.1.
    """

    def __init__(
        self,
        channels: int,
        num_cab: int = 8,
        kernel_size: int = 3,
        reduction: int = 4,
        *,
        bias: bool = False,
        act_layer: Callable[[], nn.Module] | nn.Module = nn.PReLU,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_cab = check_int(num_cab, "num_cab", minimum=0)
        k = check_kernel_size(kernel_size)
        check_layer_type(act_layer, "act_layer")  # checked here too: num_cab=0 builds no CAB
        self.body = nn.Sequential(
            *(ChannelAttentionBlock(channels, k, reduction, bias=bias, act_layer=act_layer)
              for _ in range(num_cab)),
            nn.Conv2d(channels, channels, k, padding=k // 2, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return self.residual(x)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The block without the input check (for networks that checked their input)."""
        y = x
        # body is built in __init__: the CABs, then the Conv2d
        for cab in cast(list[ChannelAttentionBlock], list(self.body[:-1])):
            y = cab.residual(y)
        conv = cast(nn.Conv2d, self.body[-1])
        pad = conv.weight.shape[-1] // 2
        if fused_inference(x):
            out: torch.Tensor = torch.ops.mkldnn._convolution_pointwise.binary(
                y, x, conv.weight, None, [pad, pad], [1, 1], [1, 1], 1, "add", None, None, [],
                None)
            return out
        return F.conv2d(y, conv.weight, padding=pad) + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_cab={self.num_cab}"

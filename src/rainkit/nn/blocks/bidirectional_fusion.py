"""NeRD-Rain's fusion of two feature maps through a shared sigmoid attention and learned gates."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_network_input

__all__ = ["BidirectionalFusion"]


class BidirectionalFusion(nn.Module):
    """The ``Fusion`` block of NeRD-Rain's bidirectional multiscale model.

    Two feature maps :math:`x, y` (the latents of two sub-networks) share an attention map,
    and each is mixed with its attended copy by two per-pixel gates:

    .. math::

        A = \\sigma\\big((W_q * x) \\odot (W_k * y)\\big), \\quad
        (g_0, g_1) = W_{\\gamma_1} * [x, A x], \\quad
        (h_0, h_1) = W_{\\gamma_2} * [y, A y],

    .. math::

        \\operatorname{out} = g_0 x + g_1 (A x) + h_0 y + h_1 (A y)

    with 3x3 convolutions with bias :math:`W_q, W_k: C \\to C` (``query_conv``, ``key_conv``)
    and :math:`W_{\\gamma_1}, W_{\\gamma_2}: 2C \\to 2` (``gamma1``, ``gamma2``), named as in the
    authors' files.

    Args:
        channels: channels :math:`C` of both inputs.

    Shape:
        - Input: ``x`` and ``y``, both :math:`(B, C, H, W)`.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import BidirectionalFusion
        >>> BidirectionalFusion(8)(torch.rand(2, 8, 5, 6), torch.rand(2, 8, 5, 6)).shape
        torch.Size([2, 8, 5, 6])

    References:
        X. Chen, J. Pan, J. Dong, "Bidirectional Multi-Scale Implicit Neural Representations for
        Image Deraining", CVPR 2024.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        c = channels
        self.query_conv = nn.Conv2d(c, c, 3, padding=1)
        self.key_conv = nn.Conv2d(c, c, 3, padding=1)
        self.gamma1 = nn.Conv2d(2 * c, 2, 3, padding=1)
        self.gamma2 = nn.Conv2d(2 * c, 2, 3, padding=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self, name="x")
            check_network_input(y, self.channels, self, name="y")
            if x.shape != y.shape:
                raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and "
                                 f"{tuple(y.shape)}")
        return self.fuse(x, y)

    def fuse(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without the input checks (for networks that checked their input)."""
        attention = torch.sigmoid(self.query_conv(x) * self.key_conv(y))
        return self._mix(x, attention, self.gamma1) + self._mix(y, attention, self.gamma2)

    @staticmethod
    def _mix(z: torch.Tensor, attention: torch.Tensor, gamma: nn.Conv2d) -> torch.Tensor:
        """:math:`g_0 z + g_1 (A z)` with :math:`(g_0, g_1) = W_\\gamma * [z, A z]`."""
        attended = z * attention
        g = F.conv2d(torch.cat([z, attended], 1), gamma.weight, gamma.bias, padding=1)
        return z * g[:, 0:1] + attended * g[:, 1:2]

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

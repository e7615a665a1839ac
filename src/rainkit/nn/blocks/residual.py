"""Residual block: two convolutions and an identity skip."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import (
    check_kernel_size,
    check_layer_type,
    check_network_input,
    make_layer,
)

__all__ = ["ResidualBlock"]


class ResidualBlock(nn.Module):
    """Two same-size convolutions and an identity skip (He et al.).

    .. math::

        y = \\phi\\big(x + N_2(W_2 * \\phi(N_1(W_1 * x)))\\big)

    where :math:`N_i` is ``norm_layer`` (identity when ``None``) and the outer
    :math:`\\phi` (``act_layer``) is applied only when ``activate_after_add=True``. The two
    variants used by rainkit's networks are:

    * BaselineNet's: ``ResidualBlock(c, norm_layer=nn.BatchNorm2d, activate_after_add=True)``
      (conv-BN-ReLU-conv-BN, add, ReLU);
    * DerainNet's: ``ResidualBlock(c)`` (conv-ReLU-conv, add; no norm).

    Convolutions have a bias only when there is no norm layer. Padding is
    ``dilation * (kernel_size - 1) / 2``, so any :math:`H, W \\ge 1` keeps its size. Receptive
    field: :math:`1 + 2 \\, d \\, (k - 1)` pixels for kernel :math:`k` and dilation :math:`d`.

    Args:
        channels: number of input and output channels :math:`C`.
        norm_layer: normalisation layer type, called as ``norm_layer(channels)``, or ``None``.
        act_layer: activation layer type, called with no arguments.
        dilation: dilation :math:`d \\ge 1` of both convolutions.
        kernel_size: odd kernel size :math:`k`.
        activate_after_add: apply ``act_layer`` after the addition as well.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values, in the parameters' dtype (see
          :class:`~rainkit.nn.RainNet`).
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.nn import ResidualBlock
        >>> block = ResidualBlock(16, norm_layer=nn.BatchNorm2d, activate_after_add=True)
        >>> block(torch.rand(2, 16, 7, 13)).shape
        torch.Size([2, 16, 7, 13])

    References:
        K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition",
        CVPR 2016.
    """

    def __init__(
        self,
        channels: int,
        *,
        norm_layer: Callable[[int], nn.Module] | None = None,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        dilation: int = 1,
        kernel_size: int = 3,
        activate_after_add: bool = False,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.dilation = check_int(dilation, "dilation", minimum=1)
        self.kernel_size = check_kernel_size(kernel_size)
        self.activate_after_add = check_bool(activate_after_add, "activate_after_add")
        check_layer_type(norm_layer, "norm_layer", optional=True)
        check_layer_type(act_layer, "act_layer")
        padding = self.dilation * (self.kernel_size - 1) // 2
        bias = norm_layer is None

        def conv() -> nn.Conv2d:
            return nn.Conv2d(channels, channels, self.kernel_size, padding=padding,
                             dilation=self.dilation, bias=bias)

        self.conv1 = conv()
        def norm() -> nn.Module:
            if norm_layer is None:
                return nn.Identity()
            return make_layer(norm_layer, "norm_layer", channels)

        self.norm1 = norm()
        self.act1 = make_layer(act_layer, "act_layer")
        self.conv2 = conv()
        self.norm2 = norm()
        self.act2 = make_layer(act_layer, "act_layer") if self.activate_after_add else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles neither the check nor its messages
            check_network_input(x, self.channels, self)
        out = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        result: torch.Tensor = self.act2(x + out)
        return result

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, activate_after_add={self.activate_after_add}")

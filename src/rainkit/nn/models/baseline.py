"""BaselineNet: residual blocks with a global skip, the simplest rainkit network."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn.base import RainNet
from rainkit.nn.blocks.residual import ResidualBlock
from rainkit.nn.registry import register_model

__all__ = ["BaselineNet"]


@register_model("baseline")
class BaselineNet(RainNet):
    """ResNet baseline: conv-BN-ReLU, residual blocks with BatchNorm, final conv, residual output.

    .. math::

        R = W_{out} * \\operatorname{blocks}(\\phi(\\operatorname{BN}(W_{in} * x))), \\qquad
        \\hat{B} = x - R,

    i.e. the output is the input plus a predicted residual :math:`-R` (residual learning: the
    network only models the rain layer :math:`R`, which is sparse and easier to learn than the
    clean image). Blocks are :class:`ResidualBlock` (conv-BN-ReLU-conv-BN, add, ReLU). The
    convolutions are Kaiming-initialised (``fan_out``, ReLU) and BatchNorm starts as the
    identity, except the output layers: the tail and each block's last BatchNorm start at zero
    (:func:`~rainkit.init.zero_output_init_`), so a fresh network returns its input.

    With the defaults (``channels=64, num_blocks=4``): 299,523 parameters, about 298 k
    multiply-accumulates per pixel, and a receptive field of 21 x 21 pixels (measured with
    :func:`receptive_field`; by hand, :math:`1 + 2 + 4 \\cdot 4 + 2`: head, four blocks of two
    3x3 convolutions, tail).

    Args:
        in_channels: image channels :math:`C`.
        channels: feature channels.
        num_blocks: number of residual blocks.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; with ``return_rain=True`` a tuple ``(derained, rain)``
          where ``derained = input - rain``. :meth:`rain_layer` returns ``rain`` alone.

    Example:
        >>> import torch
        >>> from rainkit.nn import BaselineNet
        >>> net = BaselineNet(channels=16, num_blocks=2)
        >>> derained, rain = net(torch.rand(2, 3, 7, 13), return_rain=True)
        >>> derained.shape, rain.shape
        (torch.Size([2, 3, 7, 13]), torch.Size([2, 3, 7, 13]))
        >>> float(rain.detach().abs().max())  # untrained: the identity, no rain
        0.0

    References:
        K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016; X. Fu et al.,
        "Removing Rain from Single Images via a Deep Detail Network", CVPR 2017 (residual
        learning of the rain layer).
    """

    def __init__(self, in_channels: int = 3, channels: int = 64, num_blocks: int = 4) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        self.head = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(*(
            ResidualBlock(channels, norm_layer=nn.BatchNorm2d, activate_after_add=True)
            for _ in range(num_blocks)
        ))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        zero_output_init_(*self.blocks, self.tail)  # the identity at initialisation

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rain = self.tail(self.blocks(self.head(x)))
        return x - rain, rain

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, channels={self.channels}, "
                f"num_blocks={self.num_blocks}")

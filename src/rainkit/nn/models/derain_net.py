"""DerainNet: three multi-scale branches of residual blocks that predict the rain layer."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn.base import RainNet
from rainkit.nn.blocks.multiscale import MultiScaleBranches
from rainkit.nn.blocks.residual import ResidualBlock
from rainkit.nn.registry import register_model

__all__ = ["DerainNet"]


@register_model("derainnet")
class DerainNet(RainNet):
    """Multi-scale rain-layer network: three residual branches at 1, 1/2 and 1/4 resolution.

    A shared 3x3 conv-ReLU maps the image to :math:`C` channels; :class:`MultiScaleBranches`
    runs ``num_blocks`` :class:`ResidualBlock` (conv-ReLU-conv, add) at full, half and quarter
    resolution (average pooling, bilinear upsampling to the *exact* input size, so any
    :math:`H, W \\ge 1` works, not only sizes that 4 divides); the
    :math:`3C` concatenation goes through conv-ReLU-conv to the rain layer :math:`R`:

    .. math::

        \\hat{B} = x - R(x).

    Kaiming-initialised (``fan_out``, ReLU) but for the output layers: the last convolution of
    every residual block and of the tail start at zero (:func:`~rainkit.init.zero_output_init_`),
    so a fresh network returns its input.

    With the defaults (``channels=64, num_blocks=8``): 1,886,723 parameters, about 888 k
    multiply-accumulates per pixel, and a receptive field of 141 x 141 pixels (measured with
    :func:`receptive_field` on a 385 x 385 input), set by the quarter-resolution branch.

    Args:
        in_channels: image channels.
        channels: feature channels :math:`C` of every branch.
        base_channels: the former name of ``channels`` (rainkit < 0.2), still accepted with a
            :class:`FutureWarning` so that older checkpoints load.
        num_blocks: residual blocks per branch.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C_{in}, H, W)`; with ``return_rain=True`` a tuple
          ``(derained, rain)`` with ``derained = input - rain``. :meth:`rain_layer` returns
          ``rain`` alone.

    Example:
        >>> import torch
        >>> from rainkit.nn import DerainNet
        >>> net = DerainNet(channels=8, num_blocks=1)
        >>> x = torch.rand(1, 3, 7, 13)
        >>> derained, rain = net(x, return_rain=True)
        >>> torch.allclose(derained, x - rain)
        True

    References:
        X. Fu et al., "Lightweight Pyramid Networks for Image Deraining", IEEE TNNLS 2019
        (multi-scale rain removal); K. He et al., CVPR 2016 (residual blocks).
    """

    def __init__(self, in_channels: int = 3, channels: int = 64, num_blocks: int = 8, *,
                 base_channels: int | None = None) -> None:
        super().__init__()
        if base_channels is not None:
            warnings.warn("DerainNet(base_channels=...) is now DerainNet(channels=...), like the "
                          "other networks; base_channels will be removed", FutureWarning,
                          stacklevel=2)
            channels = base_channels
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        name = "channels" if base_channels is None else "base_channels"
        self.channels = check_int(channels, name, minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        c = channels
        self.head = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(inplace=True))
        self.branches = MultiScaleBranches(
            c, lambda ch: nn.Sequential(*(ResidualBlock(ch) for _ in range(num_blocks))),
            scales=(1, 2, 4), skip=False,
        )
        self.tail = nn.Sequential(
            nn.Conv2d(3 * c, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, in_channels, 3, padding=1),
        )
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        # the identity at initialisation: zero last layer of every residual branch and the head
        zero_output_init_(*(m for m in self.modules() if isinstance(m, ResidualBlock)), self.tail)

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rain = self.tail(self.branches(self.head(x)))
        return x - rain, rain

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, channels={self.channels}, "
                f"num_blocks={self.num_blocks}")

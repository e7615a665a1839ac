"""DilatedPyramidNet: dilated residual blocks and pyramid pooling, at full resolution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn.base import RainNet
from rainkit.nn.blocks.dilated import DilatedResidualStack
from rainkit.nn.blocks.pyramid_pooling import PyramidPooling
from rainkit.nn.registry import register_model

__all__ = ["DilatedPyramidNet"]


@register_model("dilatedpyramidnet")
class DilatedPyramidNet(RainNet):
    """Rain-layer network built from :class:`DilatedResidualStack` and :class:`PyramidPooling`.

    3x3 conv-ReLU to :math:`C` channels, a dilated residual stack (rates ``dilations``),
    pyramid pooling (bins ``bins``) concatenated with the features, then conv-ReLU-conv to the
    rain layer :math:`R`; output :math:`\\hat{B} = x - R`. Everything runs at full resolution:
    the dilations widen the local receptive field for no extra parameters, and the pyramid
    pooling adds image-wide context (rain streaks share direction and density over the whole
    image) for a few 1x1 convolutions. Kaiming-initialised (``fan_out``, ReLU) but for the output
    layers: the last convolution of each residual block and of the tail start at zero
    (:func:`~rainkit.init.zero_output_init_`), so a fresh network returns its input.

    With the defaults (``channels=48``, dilations 1, 2, 4, 8, bins 1, 2, 3, 6): 212,787
    parameters and about 210 k multiply-accumulates per pixel, fewer than :class:`BaselineNet`
    (299,523 and 298 k); yet its convolutional path alone sees 67 x 67 pixels (measured with
    :func:`receptive_field` with the pyramid branches zeroed; by hand
    :math:`1 + 2 + 4 (1 + 2 + 4 + 8) + 4`) against BaselineNet's 21 x 21, and with the pyramid
    pooling every output pixel depends on the whole image (the measured receptive field equals
    the input size).

    Args:
        in_channels: image channels.
        channels: feature channels :math:`C`.
        dilations: dilation rate of each residual block.
        bins: pyramid pooling grid sizes.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C_{in}, H, W)`; with ``return_rain=True`` a tuple
          ``(derained, rain)``.

    Example:
        >>> import torch
        >>> from rainkit.nn import DilatedPyramidNet
        >>> DilatedPyramidNet(channels=8)(torch.rand(1, 3, 1, 1)).shape
        torch.Size([1, 3, 1, 1])

    References:
        F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016;
        H. Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017; W. Yang et al., "Deep Joint
        Rain Detection and Removal from a Single Image", CVPR 2017 (dilated convolutions for
        deraining).
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 48,
        dilations: Sequence[int] = (1, 2, 4, 8),
        bins: Sequence[int] = (1, 2, 3, 6),
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1),
                                  nn.ReLU(inplace=True))
        self.body = DilatedResidualStack(channels, dilations)
        self.context = PyramidPooling(channels, bins)
        self.tail = nn.Sequential(
            nn.Conv2d(self.context.out_channels, channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, in_channels, 3, padding=1),
        )
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        zero_output_init_(*self.body.blocks, self.tail)  # the identity at initialisation

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rain = self.tail(self.context(self.body(self.head(x))))
        return x - rain, rain

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, channels={self.channels}"

"""UNet for image restoration, for any input size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn._common import resize_to
from rainkit.nn.base import RainNet
from rainkit.nn.registry import register_model

__all__ = ["UNet"]


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
    )


@register_model("unet")
class UNet(RainNet):
    """Encoder-decoder with skip connections (Ronneberger et al.) adapted to restoration.

    ``depth`` levels with :math:`C, 2C, 4C, \\dots` channels; each level is two 3x3 conv-ReLU.
    Going down: 2x2 max pooling with ``ceil_mode``, so odd sizes (and 1x1) are fine. Going up:
    bilinear upsampling to the *exact* size of the skip connection, a 1x1 convolution halving the
    channels, concatenation with the skip, two conv-ReLU. A final 1x1 convolution maps to the
    image channels. With ``residual=True`` it predicts the rain layer :math:`R` and returns
    :math:`x - R`; otherwise it predicts the clean image directly (and the rain layer is reported
    as :math:`x - \\hat{B}`). Kaiming-initialised (``fan_out``, ReLU); with ``residual=True`` the
    final convolution starts at zero (:func:`~rainkit.init.zero_output_init_`), so a fresh
    network returns its input (with ``residual=False`` no initialisation gives the identity).

    With the defaults (``base_channels=32, depth=4``): 1,796,643 parameters, about 141 k
    multiply-accumulates per pixel, and a receptive field of 116 x 116 pixels (measured with
    :func:`receptive_field` on a 257 x 257 input).

    Args:
        in_channels: image channels.
        base_channels: channels :math:`C` of the first level.
        depth: number of levels (``depth - 1`` downsamplings), ``>= 1``.
        residual: predict the rain layer and subtract it from the input.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C_{in}, H, W)`; with ``return_rain=True`` a tuple
          ``(derained, rain)``.

    Example:
        >>> import torch
        >>> from rainkit.nn import UNet
        >>> UNet(base_channels=8, depth=3)(torch.rand(2, 3, 33, 65)).shape
        torch.Size([2, 3, 33, 65])

    References:
        O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
        Segmentation", MICCAI 2015.
    """

    def __init__(
        self, in_channels: int = 3, base_channels: int = 32, depth: int = 4, residual: bool = True
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.base_channels = check_int(base_channels, "base_channels", minimum=1)
        self.depth = check_int(depth, "depth", minimum=1)
        self.residual = check_bool(residual, "residual")
        widths = [base_channels * 2**i for i in range(depth)]
        self.encoders = nn.ModuleList(
            _double_conv(in_channels if i == 0 else widths[i - 1], widths[i]) for i in range(depth)
        )
        self.reducers = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 1) for i in range(depth - 1)
        )
        self.decoders = nn.ModuleList(
            _double_conv(2 * widths[i], widths[i]) for i in range(depth - 1)
        )
        self.out = nn.Conv2d(widths[0], in_channels, 1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        if self.residual:  # a zero rain head: the identity at initialisation
            zero_output_init_(self.out)

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = []
        h = x
        for i, encoder in enumerate(self.encoders):
            if i > 0:
                h = F.max_pool2d(h, 2, ceil_mode=True)
            h = encoder(h)
            skips.append(h)
        for i in reversed(range(self.depth - 1)):
            skip = skips[i]
            h = self.reducers[i](resize_to(h, list(skip.shape[-2:])))
            h = self.decoders[i](torch.cat([skip, h], dim=1))
        y = self.out(h)
        if self.residual:
            return x - y, y
        return y, x - y

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, base_channels={self.base_channels}, "
                f"depth={self.depth}, residual={self.residual}")

"""MPRNet's supervised attention module (SAM): a supervised image estimate gates the features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import check_kernel_size, check_network_input
from rainkit.nn.blocks._fused_conv import fused_inference

__all__ = ["SupervisedAttention"]


def _layout(x: torch.Tensor) -> torch.memory_format:
    return (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous() else torch.contiguous_format)


class SupervisedAttention(nn.Module):
    """Supervised attention module (SAM) between two stages of MPRNet.

    From the features :math:`F` of a stage and its input image :math:`I`, SAM forms the stage's
    image estimate :math:`\\hat{I}` (the one the loss supervises) and passes on features gated
    by an attention map computed from that estimate:

    .. math::

        \\hat{I} = W_2 * F + I, \\qquad
        F_{out} = F + (W_1 * F) \\odot \\sigma(W_3 * \\hat{I})

    with convolutions :math:`W_1: C \\to C`, :math:`W_2: C \\to C_{img}` and
    :math:`W_3: C_{img} \\to C` (``conv1``, ``conv2``, ``conv3`` as in the authors' files;
    MPRNet uses 1x1 kernels and no bias).

    Args:
        channels: feature channels :math:`C`.
        kernel_size: odd kernel size of the three convolutions.
        bias: whether the convolutions have a bias.
        image_channels: channels of the image :math:`C_{img}`.

    Shape:
        - Input: features :math:`(B, C, H, W)` and image :math:`(B, C_{img}, H, W)`.
        - Output: a tuple ``(features, image)`` of shapes :math:`(B, C, H, W)` and
          :math:`(B, C_{img}, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import SupervisedAttention
        >>> sam = SupervisedAttention(8, kernel_size=1)
        >>> feats, image = sam(torch.rand(2, 8, 5, 7), torch.rand(2, 3, 5, 7))
        >>> feats.shape, image.shape
        (torch.Size([2, 8, 5, 7]), torch.Size([2, 3, 5, 7]))

    References:
        S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao, "Multi-Stage
        Progressive Image Restoration", CVPR 2021, section 3.2.
    """

    def __init__(self, channels: int, kernel_size: int = 1, *, bias: bool = False,
                 image_channels: int = 3) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.image_channels = check_int(image_channels, "image_channels", minimum=1)
        self.kernel_size = check_kernel_size(kernel_size)
        bias = check_bool(bias, "bias")
        pad = self.kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, self.kernel_size, padding=pad, bias=bias)
        self.conv2 = nn.Conv2d(channels, image_channels, self.kernel_size, padding=pad, bias=bias)
        self.conv3 = nn.Conv2d(image_channels, channels, self.kernel_size, padding=pad, bias=bias)

    def forward(self, features: torch.Tensor, image: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.jit.is_scripting():
            check_network_input(features, self.channels, self, name="features")
            check_network_input(image, self.image_channels, self, name="image")
            if features.shape[0] != image.shape[0] or features.shape[2:] != image.shape[2:]:
                raise ValueError(f"features and image must have the same batch and size, got "
                                 f"{tuple(features.shape)} and {tuple(image.shape)}")
        return self.apply_attention(features, image)

    def apply_attention(self, features: torch.Tensor, image: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` without the input checks (for networks that checked their input)."""
        pad = self.kernel_size // 2
        if fused_inference(features):  # three oneDNN calls, the add, sigmoid and product inside
            op, p = torch.ops.mkldnn._convolution_pointwise, [pad, pad]
            one = [1, 1]
            estimate = op.binary(features, image.contiguous(memory_format=_layout(features)),
                                 self.conv2.weight, self.conv2.bias, p, one, one, 1, "add",
                                 None, None, [], None)
            gate = op(estimate, self.conv3.weight, self.conv3.bias, p, one, one, 1, "sigmoid",
                      [], None)
            out = op.binary(features, gate, self.conv1.weight, self.conv1.bias, p, one, one, 1,
                            "mul", None, None, [], None)
            return out.add_(features), estimate
        estimate = F.conv2d(features, self.conv2.weight, self.conv2.bias, padding=pad) + image
        gate = torch.sigmoid(F.conv2d(estimate, self.conv3.weight, self.conv3.bias, padding=pad))
        out = torch.addcmul(features, self.conv1(features), gate)
        return out, estimate

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, image_channels={self.image_channels}, "
                f"kernel_size={self.kernel_size}")

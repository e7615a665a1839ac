"""Channel attention (squeeze-and-excitation of RCAN) and MPRNet's channel-attention block (CAB)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import check_kernel_size, check_layer_type, check_network_input, make_layer
from rainkit.nn.blocks._fused_conv import fused_inference

__all__ = ["ChannelAttention", "ChannelAttentionBlock"]


def _conv_prelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                act: nn.Module, fused: bool) -> torch.Tensor:
    """``act(conv(x))``, 'same' padding; on the fused CPU path a one-slope PReLU (or a ReLU)
    runs inside the oneDNN convolution as a leaky ReLU of that slope."""
    pad = weight.shape[-1] // 2
    if fused:
        if isinstance(act, nn.PReLU) and act.weight.numel() == 1:
            leaky: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, [pad, pad], [1, 1], [1, 1], 1, "leaky_relu",
                [float(act.weight)], None)
            return leaky
        if isinstance(act, nn.ReLU):
            relu: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, [pad, pad], [1, 1], [1, 1], 1, "relu", [], None)
            return relu
    out: torch.Tensor = act(F.conv2d(x, weight, bias, padding=pad))
    return out


class ChannelAttention(nn.Module):
    """Channel attention: rescale each channel by a gate computed from the global mean.

    .. math::

        y = x \\odot \\sigma\\big(W_2 \\, \\operatorname{ReLU}(W_1 \\, \\bar{x})\\big), \\qquad
        \\bar{x}_c = \\frac{1}{HW} \\sum_{h, w} x_{c, h, w}

    with :math:`W_1 \\in \\mathbb{R}^{C/r \\times C}`, :math:`W_2 \\in \\mathbb{R}^{C \\times C/r}`
    (1x1 convolutions, the "CALayer" of RCAN and MPRNet; parameters ``conv_du.0`` and
    ``conv_du.2`` as in the authors' files). The gate depends on the whole image, so the block
    is not tileable exactly.

    Args:
        channels: channels :math:`C`.
        reduction: :math:`r`; the bottleneck has ``channels // reduction`` channels (at least 1).
        bias: whether the two 1x1 convolutions have a bias.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values.
        - Output: :math:`(B, C, H, W)`. :meth:`gate` returns the :math:`(B, C, 1, 1)` gate.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import ChannelAttention
        >>> ChannelAttention(16, reduction=4)(torch.rand(2, 16, 5, 7)).shape
        torch.Size([2, 16, 5, 7])

    References:
        Y. Zhang, K. Li, K. Li, L. Wang, B. Zhong, Y. Fu, "Image Super-Resolution Using Very
        Deep Residual Channel Attention Networks", ECCV 2018; J. Hu, L. Shen, G. Sun,
        "Squeeze-and-Excitation Networks", CVPR 2018.
    """

    def __init__(self, channels: int, reduction: int = 16, *, bias: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.reduction = check_int(reduction, "reduction", minimum=1)
        self.bias = check_bool(bias, "bias")
        hidden = max(channels // reduction, 1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=bias), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=bias), nn.Sigmoid(),
        )

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The :math:`(B, C, 1, 1)` gate :math:`\\sigma(W_2 \\operatorname{ReLU}(W_1 \\bar{x}))`."""
        # conv_du[0] and conv_du[2] are the Conv2d of __init__, typed Module by the checker; the
        # ignores stand for typing.cast, which torch.jit.script (this block scripts) rejects.
        first, second = self.conv_du[0], self.conv_du[2]
        w1, w2 = first.weight.flatten(1), second.weight.flatten(1)  # type: ignore[operator]
        hidden = F.relu(F.linear(x.mean((2, 3)), w1, first.bias))  # type: ignore[arg-type]
        gate = torch.sigmoid(F.linear(hidden, w2, second.bias))  # type: ignore[arg-type]
        return gate[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return x * self.gate(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, bias={self.bias}"


class ChannelAttentionBlock(nn.Module):
    """MPRNet's channel-attention block (CAB): two convolutions, channel attention, a skip.

    .. math::

        y = x + \\operatorname{CA}\\big(W_2 * \\phi(W_1 * x)\\big)

    where :math:`\\phi` is ``act_layer`` (MPRNet: a PReLU) and CA is
    :class:`ChannelAttention`. Parameters ``body.0`` (:math:`W_1`), ``body.1`` (the
    activation), ``body.2`` (:math:`W_2`) and ``CA`` as in the authors' files, so their state
    dicts load as they are. MPRNet builds **one** PReLU and passes it to every CAB (55 state-dict
    keys, one parameter): pass a module instance as ``act_layer`` to share it the same way.

    Under ``torch.no_grad()`` on a float32 CPU tensor, the activation (a one-slope PReLU or a
    ReLU) runs inside the oneDNN convolution and the gate and skip are one
    :func:`torch.addcmul`; elsewhere the plain operators run.

    Args:
        channels: channels :math:`C`.
        kernel_size: odd kernel size of both convolutions ('same' zero padding).
        reduction: reduction of the channel attention.
        bias: whether the convolutions have a bias (MPRNet: no).
        act_layer: activation type called with no arguments (``nn.PReLU``), or a module
            instance to share between blocks.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.nn.blocks import ChannelAttentionBlock
        >>> act = nn.PReLU()
        >>> blocks = nn.Sequential(*(ChannelAttentionBlock(8, act_layer=act) for _ in range(2)))
        >>> blocks(torch.rand(1, 8, 6, 6)).shape, sum(p.numel() for p in blocks.parameters())
        (torch.Size([1, 8, 6, 6]), 2369)

    References:
        S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao, "Multi-Stage
        Progressive Image Restoration", CVPR 2021.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        reduction: int = 4,
        *,
        bias: bool = False,
        act_layer: Callable[[], nn.Module] | nn.Module = nn.PReLU,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.kernel_size = check_kernel_size(kernel_size)
        check_layer_type(act_layer, "act_layer")  # a module instance is callable too
        act = act_layer if isinstance(act_layer, nn.Module) else make_layer(act_layer, "act_layer")
        pad = self.kernel_size // 2
        self.CA = ChannelAttention(channels, reduction, bias=bias)  # first, as the authors' keys
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, self.kernel_size, padding=pad, bias=bias), act,
            nn.Conv2d(channels, channels, self.kernel_size, padding=pad, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return self.residual(x)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The block without the input check (for networks that checked their input)."""
        fused = fused_inference(x)
        # body is built in __init__: Conv2d, the activation, Conv2d
        first, act, second = (cast(nn.Conv2d, self.body[0]), self.body[1],
                              cast(nn.Conv2d, self.body[2]))
        res = _conv_prelu(x, first.weight, first.bias, act, fused)
        if fused:
            pad = second.weight.shape[-1] // 2
            res = torch.ops.mkldnn._convolution_pointwise(
                res, second.weight, second.bias, [pad, pad], [1, 1], [1, 1], 1, "none", [],
                None)
            return torch.addcmul(x, res, self.CA.gate(res), out=res)
        res = second(res)
        return torch.addcmul(x, res, self.CA.gate(res))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"

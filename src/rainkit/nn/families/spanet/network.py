"""SPANet: the spatial attentive deraining network of Wang et al. (CVPR 2019)."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.init import kaiming_init_
from rainkit.nn._common import check_network_input
from rainkit.nn.base import RainNet
from rainkit.nn.blocks._fused_dilated import conv2d_dilated, conv2d_dilated_add, fused_inference
from rainkit.nn.blocks.irnn import SpatialIRNN, spatial_irnn
from rainkit.nn.registry import register_model

__all__ = ["SPANet", "SpatialAttentiveModule"]

#: Blocks (0-based) before which the attention mask is recomputed, and the first block after
#: the attentive ones: SPANet applies its one SAM before blocks 4, 7, 10 and 13 (1-based) and
#: weights blocks 4-15 by the mask.
_SAM_BEFORE = (3, 6, 9, 12)
_ATTENTIVE = range(3, 15)
_NUM_BLOCKS = 17


class SpatialAttentiveModule(nn.Module):
    """SPANet's spatial attentive module (the authors' ``SAM``): a one-channel mask in (0, 1).

    .. math::

        M = \\sigma\\Big(W_{out} * \\operatorname{ReLU}\\big(W_3 * \\operatorname{IRNN}_2(W_2 *
        \\operatorname{IRNN}_1(W_{in} * x))\\big)\\Big),

    where each :class:`~rainkit.nn.SpatialIRNN` concatenates its four scans (up, right, down,
    left) so that every pixel sees its whole row and column, and the second one the whole
    image. :math:`W_{in}, W_2, W_3` are 3x3 and :math:`W_{out}` is 1x1, all without bias.

    The authors' module also computes a "direction attention" (three convolutions) whose
    products with the scans are discarded (``top_up.mul(...)`` without assignment): it never
    changes the mask, so it is not built here and its 7,012 parameters are dropped on loading.

    Args:
        channels: channels :math:`C` of the features.

    Shape:
        - Input: :math:`(B, C, H, W)`.
        - Output: :math:`(B, 1, H, W)` in :math:`(0, 1)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.spanet import SpatialAttentiveModule
        >>> SpatialAttentiveModule(8)(torch.rand(1, 8, 5, 6)).shape
        torch.Size([1, 1, 5, 6])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.conv_in = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.irnn1 = SpatialIRNN(channels)
        self.conv2 = nn.Conv2d(4 * channels, channels, 3, padding=1, bias=False)
        self.irnn2 = SpatialIRNN(channels)
        self.conv3 = nn.Conv2d(4 * channels, channels, 3, padding=1, bias=False)
        self.conv_out = nn.Conv2d(channels, 1, 1, bias=False)

    def _mask(self, x: torch.Tensor, fused: bool) -> torch.Tensor:
        # spatial_irnn returns channels_last tensors, the layout of the fused path
        out = conv2d_dilated(x, self.conv_in.weight, None, fused=fused)
        out = spatial_irnn(out, self.irnn1.weight, self.irnn1.bias)
        out = conv2d_dilated(out, self.conv2.weight, None, fused=fused)
        out = spatial_irnn(out, self.irnn2.weight, self.irnn2.bias)
        out = conv2d_dilated(out, self.conv3.weight, None, act="relu", fused=fused)
        return conv2d_dilated(out, self.conv_out.weight, None, act="sigmoid", fused=fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_network_input(x, self.channels, self)
        return self._mask(x, fused_inference(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class _Bottleneck(nn.Module):
    """conv 1x1 - ReLU - conv 3x3 (dilation 2) - ReLU - conv 1x1, no biases; the network adds
    it to its input, weighted by the attention mask: :math:`\\operatorname{ReLU}(x + M \\odot
    F(x))`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=2, dilation=2, bias=False)
        self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, fused: bool) -> torch.Tensor:
        r = conv2d_dilated(x, self.conv1.weight, None, act="relu", fused=fused)
        r = conv2d_dilated(r, self.conv2.weight, None, 2, act="relu", fused=fused)
        if mask is None:
            return conv2d_dilated_add(r, self.conv3.weight, None, x, act="relu", fused=fused)
        r = conv2d_dilated(r, self.conv3.weight, None, fused=fused)
        if fused:
            return r.mul_(mask).add_(x).relu_()
        return torch.relu(r * mask + x)


@register_model("spanet")
class SPANet(RainNet):
    """SPANet: 17 dilated bottleneck blocks, twelve of them weighted by a spatial attention mask.

    Written from Wang et al. (CVPR 2019) and their ``SPANet.py``. The features
    :math:`f_0 = \\operatorname{ReLU}(W_{in} * O)` pass through 17 residual bottlenecks
    :math:`f_k = \\operatorname{ReLU}(f_{k-1} + M_k \\odot F_k(f_{k-1}))`, where :math:`M_k = 1`
    for blocks 1-3, 16 and 17 and, for blocks 4-15, the mask of one
    :class:`SpatialAttentiveModule` (shared weights) recomputed from the current features
    before blocks 4, 7, 10 and 13. The output convolution gives **the clean image directly**,
    :math:`B = W_{out} * f_{17}`; the rain layer is :math:`O - B`.

    **Channel order.** The authors' code reads BGR (``cv2.imread``); with ``bgr=True`` (the
    released files) this network takes RGB and flips the channels in and out. **Tiling.** The
    IRNN scans whole rows and columns, so the mask depends on the full frame:
    ``rainkit derain --tile`` is only approximate.

    **Initialisation.** Kaiming (``fan_out``, ReLU), then the network is set to the identity:
    the last convolution of each bottleneck is zero, the first ``in_channels`` feature channels
    copy the input (a Dirac kernel; the input is non-negative, so the ReLU keeps it) and the
    output convolution reads them back (zero elsewhere). The IRNN weights start at SPANet's
    0.2 and their biases at 0.

    **Speed.** Under ``torch.no_grad()`` on a float32 CPU tensor the forward runs in NHWC with
    oneDNN convolutions that fuse the ReLUs and the residual additions, the IRNN scans run as
    two vectorised loops written in place (:func:`~rainkit.nn.blocks.irnn.spatial_irnn`), and
    the discarded direction attention is not computed: 2.02x faster than the authors'
    formulation (their IRNN as a per-step torch loop) on one thread at 240 x 320
    (``benchmarks/bench_spanet.py``), same output to float rounding.

    With the defaults: 276,704 parameters (the released files hold 283,716: 7,012 more for
    the direction attention, which never affects the output).

    Args:
        in_channels: image channels :math:`C` (3 for ``bgr=True``).
        channels: feature channels.
        bgr: the weights expect BGR images: flip the channels of the input and the output.

    Shape:
        - Input: :math:`(B, C, H, W)`, RGB in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; :meth:`attention` gives the four masks.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.spanet import SPANet
        >>> net = SPANet()
        >>> sum(p.numel() for p in net.parameters())
        276704
        >>> x = torch.rand(1, 3, 8, 9)
        >>> bool(torch.equal(net(x), x))  # the identity until trained
        True

    References:
        T. Wang, X. Yang, K. Xu, S. Chen, Q. Zhang, R. W. H. Lau, "Spatial Attentive
        Single-Image Deraining with a High Quality Real Rain Dataset", CVPR 2019.
    """

    def __init__(self, in_channels: int = 3, channels: int = 32, bgr: bool = True) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.channels = check_int(channels, "channels", minimum=in_channels)
        self.bgr = check_bool(bgr, "bgr")
        if bgr and in_channels != 3:
            raise ValueError(f"bgr=True flips 3 colour channels, got in_channels={in_channels}")
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.sam = SpatialAttentiveModule(channels)
        self.blocks = nn.ModuleList(_Bottleneck(channels) for _ in range(_NUM_BLOCKS))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1, bias=False)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        with torch.no_grad():
            for block in cast(list[_Bottleneck], list(self.blocks)):
                block.conv3.weight.zero_()
            nn.init.dirac_(self.head.weight[:in_channels])
            self.tail.weight.zero_()
            nn.init.dirac_(self.tail.weight[:, :in_channels])

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fused = fused_inference(x)
        out = x.flip(1) if self.bgr else x
        if fused:
            out = out.contiguous(memory_format=torch.channels_last)
        out = conv2d_dilated(out, self.head.weight, None, act="relu", fused=fused)
        masks: list[torch.Tensor] = []
        for k, block in enumerate(self.blocks):
            if k in _SAM_BEFORE:
                masks.append(self.sam._mask(out, fused))
            out = block(out, masks[-1] if k in _ATTENTIVE else None, fused)
        out = conv2d_dilated(out, self.tail.weight, None, fused=fused)
        if self.bgr:
            out = out.flip(1)
        return out.contiguous(), masks

    def attention(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four attention masks, each :math:`(B, 1, H, W)` in :math:`(0, 1)` (the first is
        the authors' ``Attention1``, the first output of their ``forward``)."""
        check_network_input(x, self.in_channels, self)
        return [m.contiguous() for m in self._run(x)[1]]

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        derained = self._run(x)[0]
        return derained, x - derained

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, channels={self.channels}, bgr={self.bgr}"

"""SAPNet: PReNet's recurrence with dilated residual blocks and channel attention (WACV 2022)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn.base import StagedRainNet
from rainkit.nn.blocks._fused_dilated import conv2d_dilated, conv2d_dilated_add, fused_inference
from rainkit.nn.blocks.convlstm import ConvLSTMCell
from rainkit.nn.blocks.se import SqueezeExcite
from rainkit.nn.registry import register_model

__all__ = ["SAPNet"]


class _AttentionResBlock(nn.Module):
    """SAPNet's residual block: :math:`y = \\operatorname{ReLU}(x + F(x))`.

    :math:`F` is conv 3x3 - CRA - ReLU - conv 3x3 - CRA - ReLU, both convolutions dilated by
    ``dilation``, each CRA a channel-residual attention gate (:class:`~rainkit.nn.SqueezeExcite`
    with a linear skip, no biases)."""

    def __init__(self, channels: int, dilation: int, reduction: int) -> None:
        super().__init__()
        self.dilation = dilation
        hidden = max(1, channels // reduction)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.att1 = SqueezeExcite(channels, hidden, bias=False, skip=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.att2 = SqueezeExcite(channels, hidden, bias=False, skip=True)

    def forward(self, x: torch.Tensor, fused: bool, nonnegative_input: bool = False
                ) -> torch.Tensor:
        d = self.dilation
        if not fused:
            r = torch.relu(self.att1(self.conv1(x)))
            return torch.relu(torch.relu(self.att2(self.conv2(r))) + x)
        r = conv2d_dilated(x, self.conv1.weight, self.conv1.bias, d, fused=True)
        r = r.mul_(self.att1.scale(r)).relu_()
        r = conv2d_dilated(r, self.conv2.weight, self.conv2.bias, d, fused=True)
        r = r.mul_(self.att2.scale(r)).relu_().add_(x)
        # ReLU(r) + x >= 0 already when x >= 0 (the output of a previous block): skip a pass.
        return r if nonnegative_input else r.relu_()


@register_model("sapnet")
class SAPNet(StagedRainNet):
    """SAPNet's deraining network: PReNet's recurrence, dilated blocks with channel attention.

    Written from Zheng et al. (WACV 2022) and their ``Modeling/network.py`` (class ``SAPNet``
    as ``test.py`` runs it: ``recurrent_iter=6, use_dilation=True``). Stage :math:`t`
    concatenates the rainy image :math:`y` with the estimate :math:`x_{t-1}` (:math:`x_0 = y`):

    .. math::

        z = \\operatorname{ReLU}(W_{in} * [y, x_{t-1}]), \\quad
        (h_t, c_t) = \\operatorname{ConvLSTM}(z, (h_{t-1}, c_{t-1})), \\quad
        x_t = y + W_{out} * \\operatorname{Res}_5 \\circ \\cdots \\circ \\operatorname{Res}_1(h_t),

    where :math:`\\operatorname{Res}_k` is a residual block of two 3x3 convolutions dilated by
    ``dilations[k]``, each followed by a channel-residual attention (CRA) gate and a ReLU. The
    weights are shared by all stages; the rain layer is :math:`R = y - x_T`.

    **The dilations are not stored in the checkpoint.** The released file has the same keys
    and shapes with ``dilations=(1, 1, 1, 1, 1)`` (the authors' ``use_dilation=False``), which
    is another network; the table entry states ``(1, 2, 4, 8, 16)``. **Tiling.** The CRA
    gates pool over the whole image: ``rainkit derain --tile`` is only approximate.

    **Initialisation.** Kaiming (``fan_out``, ReLU), with the output convolution at zero, so
    an untrained network is the identity (the blocks' last convolutions stay Kaiming: a ReLU
    follows each, and a zeroed one would never receive a gradient).

    **Speed.** Under ``torch.no_grad()`` on a float32 CPU tensor the forward runs in NHWC with
    oneDNN convolutions, the four LSTM gates as one convolution with the sigmoid fused in (the
    first stage skips :math:`W_h * h_0`), :math:`\\tanh` as :math:`2\\sigma(2v) - 1` and
    in-place updates: 1.62x faster than the authors' formulation on one thread at 240 x 320
    (``benchmarks/bench_sapnet.py``), same output to float rounding.

    With the defaults: 180,483 parameters.

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and LSTM channels.
        dilations: dilation of each residual block (their number is the number of blocks).
        reduction: the CRA bottleneck is ``channels // reduction`` wide.

    Shape:
        - Input: :math:`(B, C, H, W)`, RGB in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; :meth:`stage_outputs` returns every stage's estimate.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.sapnet import SAPNet
        >>> net = SAPNet()
        >>> sum(p.numel() for p in net.parameters())
        180483
        >>> x = torch.rand(1, 3, 9, 11)
        >>> bool(torch.equal(net(x), x))  # the identity until trained
        True

    References:
        S. Zheng, C. Lu, Y. Wu, G. Gupta, "SAPNet: Segmentation-Aware Progressive Network for
        Perceptual Contrastive Deraining", WACV 2022 Workshops.
    """

    def __init__(
        self,
        in_channels: int = 3,
        stages: int = 6,
        channels: int = 32,
        dilations: Sequence[int] = (1, 2, 4, 8, 16),
        reduction: int = 16,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.reduction = check_int(reduction, "reduction", minimum=1)
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence):
            raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
        self.dilations = tuple(check_int(d, "dilations[i]", minimum=1) for d in dilations)
        if not self.dilations:
            raise ValueError("dilations must hold at least one dilation, got ()")
        self.head = nn.Conv2d(2 * in_channels, channels, 3, padding=1)
        self.lstm = ConvLSTMCell(channels, channels)
        self.blocks = nn.ModuleList(
            _AttentionResBlock(channels, d, reduction) for d in self.dilations)
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        # only the output convolution starts at zero: a ReLU follows each block's last
        # convolution, and ReLU'(0) = 0 would keep a zeroed branch from ever training
        zero_output_init_(self.tail)

    def _stages(self, y: torch.Tensor, every: bool) -> list[torch.Tensor]:
        fused = fused_inference(y)
        if fused:
            return self._fused_stages(y, every)
        x, state = y, None
        outputs = []
        for _ in range(self.stages):
            z = conv2d_dilated(torch.cat([y, x], dim=1), self.head.weight, self.head.bias,
                               act="relu")
            state = self.lstm(z, state)
            z = state[0]
            for block in self.blocks:
                z = block(z, False)
            x = conv2d_dilated_add(z, self.tail.weight, self.tail.bias, y)
            outputs.append(x)
        return outputs if every else outputs[-1:]

    def _fused_stages(self, y: torch.Tensor, every: bool) -> list[torch.Tensor]:
        """CPU inference: NHWC, and the four LSTM gates as *one* oneDNN convolution over
        :math:`[z, h]` with the sigmoid fused in. The candidate gate's weights are doubled
        (exactly, a power of two) so that it gives :math:`\\sigma(2v)`, and
        :math:`\\tanh(v) = 2\\sigma(2v) - 1` (also for :math:`\\tanh(c)`): one wide
        convolution instead of eight narrow ones, and no slow ``tanh`` pass."""
        y = y.contiguous(memory_format=torch.channels_last)
        c_h = self.channels
        weight, bias = self.lstm.gates.weight, self.lstm.gates.bias
        scale = torch.ones(4 * c_h, 1, 1, 1, dtype=y.dtype)
        scale[2 * c_h:3 * c_h] = 2.0  # the order is i, f, g, o
        weight = weight * scale
        bias = bias * scale.flatten() if bias is not None else None
        x, h, c = y, None, None
        outputs = []
        for _ in range(self.stages):
            z = conv2d_dilated(torch.cat([y, x], dim=1), self.head.weight, self.head.bias,
                               act="relu", fused=True)
            if h is None:  # h = c = 0: only the z half of the weights, no forget gate
                gates = conv2d_dilated(z, weight[:, :c_h], bias, act="sigmoid", fused=True)
            else:
                gates = conv2d_dilated(torch.cat([z, h], dim=1), weight, bias, act="sigmoid",
                                       fused=True)
            i, f, g, o = torch.split(gates, c_h, dim=1)
            g = g.mul_(2).sub_(1)  # tanh of the candidate
            c = i.mul(g) if c is None else torch.addcmul(f.mul(c), i, g)
            t = torch.sigmoid(c * 2).mul_(2).sub_(1)  # tanh(c)
            h = t.mul_(o)
            z = h
            for k, block in enumerate(self.blocks):
                z = block(z, True, k > 0)
            x = conv2d_dilated_add(z, self.tail.weight, self.tail.bias, y, fused=True)
            outputs.append(x)
        outputs = outputs if every else outputs[-1:]
        return [o.contiguous() for o in outputs]


    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, dilations={self.dilations}, "
                f"reduction={self.reduction}")

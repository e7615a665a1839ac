"""BRN: the bilateral recurrent network of Ren et al. (TIP 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn._common import check_network_input
from rainkit.nn.base import RainNet
from rainkit.nn.blocks._fused_conv import (
    conv2d_accumulate_,
    conv2d_act,
    conv2d_add,
    fused_inference,
)
from rainkit.nn.families.prenet.network import (
    _channels_last_for,
    _PReNetBlocks,
    _PReNetResBlock,
)
from rainkit.nn.registry import register_model

__all__ = ["BRN", "lstm_step"]

_State = tuple[torch.Tensor, torch.Tensor]


def lstm_step(
    parts: Sequence[torch.Tensor | None],
    c: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> _State:
    """One convolutional-LSTM step whose gates read several tensors, some of them zero.

    .. math::

        i, f, o = \\sigma(W_{i,f,o} * [p_1, \\dots, p_n] + b_{i,f,o}), \\qquad
        g = \\tanh(W_g * [p_1, \\dots, p_n] + b_g),

        c_t = f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t).

    The parts are given in the order of the weight's input channels, each with the same
    number of channels :math:`C_h` (BRN's features and the states of both branches). A part
    ``None`` stands for zeros and its columns of the weight are skipped, not multiplied by zero;
    ``c=None`` stands for :math:`c_{t-1} = 0` (then the forget gate is not computed on the
    fused path). Under ``torch.no_grad()`` on a float32 CPU tensor every gate is written by
    oneDNN convolutions into one buffer, part after part, with the activation fused in or
    applied in place (no concatenation, and :math:`\\tanh` computed from the faster sigmoid);
    elsewhere plain operators run. Both give the same values up to float rounding.

    Args:
        parts: the gate inputs, :math:`(B, C_h, H, W)` each or ``None``; at least one tensor.
        c: the cell state :math:`(B, C_h, H, W)` or ``None``.
        weight: :math:`(4 C_h, n C_h, k, k)`, the gates stacked in the order :math:`i, f, g, o`.
        bias: :math:`(4 C_h,)` or ``None``.

    Returns:
        ``(h_t, c_t)``, each :math:`(B, C_h, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.brn.network import lstm_step
        >>> w = torch.randn(8, 6, 3, 3)
        >>> h, c = lstm_step([torch.rand(1, 2, 4, 4), None, None], None, w, None)
        >>> h.shape
        torch.Size([1, 2, 4, 4])
    """
    hidden = weight.shape[0] // 4
    present = [(p, slice(k * hidden, (k + 1) * hidden)) for k, p in enumerate(parts)
               if p is not None]
    if not present:
        raise ValueError("lstm_step needs at least one input tensor, got only None")
    if fused_inference(present[0][0]):
        return _fused_lstm_step(present, c, weight, bias, hidden)
    if len(present) == len(parts):
        inp, w = torch.cat([p for p, _ in present], dim=1), weight
    else:
        inp = torch.cat([p for p, _ in present], dim=1)
        w = torch.cat([weight[:, cols] for _, cols in present], dim=1)
    i, f, g, o = F.conv2d(inp, w, bias, padding=weight.shape[-1] // 2).chunk(4, dim=1)
    cell = torch.sigmoid(i) * torch.tanh(g)
    if c is not None:
        cell = torch.sigmoid(f) * c + cell
    return torch.sigmoid(o) * torch.tanh(cell), cell


def _fused_lstm_step(
    present: list[tuple[torch.Tensor, slice]],
    c: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    hidden: int,
) -> _State:
    """CPU inference: per gate, the first part's convolution (with the bias, and the sigmoid
    when it is the only part) in one oneDNN call, the other parts accumulated in place into the
    same buffer, then the sigmoid in place; no concatenation, no forget gate when :math:`c = 0`.

    Every ``tanh`` is computed as :math:`\\tanh(v) = 2 \\sigma(2 v) - 1`: for the candidate
    gate the weights and bias are doubled (exact in floating point) and the sigmoid fused in.
    PyTorch's CPU ``tanh`` is several times slower than its ``sigmoid``; the identity costs two
    cheap in-place passes and changes the result by float rounding only (about 1e-7)."""

    def gate(k: int) -> torch.Tensor:
        rows = slice(k * hidden, (k + 1) * hidden)
        w = weight[rows] * 2 if k == 2 else weight[rows]
        b = None if bias is None else (bias[rows] * 2 if k == 2 else bias[rows])
        (first, cols), rest = present[0], present[1:]
        if not rest:
            return conv2d_act(first, w[:, cols], b, "sigmoid", fused=True)
        out = conv2d_act(first, w[:, cols], b, fused=True)
        for part, cols in rest:
            conv2d_accumulate_(out, part, w[:, cols])
        return out.sigmoid_()

    i, o = gate(0), gate(3)
    g = gate(2).mul_(2).sub_(1)  # tanh of the candidate
    if c is None:
        cell = g.mul_(i)
    else:
        cell = gate(1).mul_(c)
        cell.addcmul_(i, g)
    h = cell.mul(2).sigmoid_().mul_(2).sub_(1).mul_(o)  # o * tanh(c)
    return h, cell


class _Branch(nn.Module):
    """One branch of BRN: input convolution + ReLU, LSTM gates over three tensors, residual
    blocks, output convolution (the parameters only; :class:`BRN` runs them)."""

    def __init__(self, in_channels: int, out_channels: int, channels: int,
                 num_blocks: int) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU())
        self.gates = nn.Conv2d(3 * channels, 4 * channels, 3, padding=1)
        self.blocks = _PReNetBlocks(*(_PReNetResBlock(channels) for _ in range(num_blocks)))
        self.tail = nn.Conv2d(channels, out_channels, 3, padding=1)


@register_model("brn")
class BRN(RainNet):
    """Bilateral recurrent network: a rain branch and an image branch, unrolled ``stages`` times.

    Written from Ren et al. (TIP 2020) and their released ``generator.py`` (class ``BRN``).
    Each stage first estimates the rain layer :math:`r_t`, then the image :math:`x_t`, each
    branch a PReNet-like stage (input convolution, conv-LSTM, residual blocks, output
    convolution) whose LSTM also reads the other branch's hidden state:

    .. math::

        (h^r_t, c^r_t) &= \\operatorname{LSTM}_r([\\operatorname{ReLU}(W^r_{in} *
        [y, r_{t-1}]), h^r_{t-1}, h_{t-1}], c^r_{t-1}), \\quad
        r_t = W^r_{out} * \\operatorname{Res}^{3}(h^r_t),

        (h_t, c_t) &= \\operatorname{LSTM}([\\operatorname{ReLU}(W_{in} * [y, x_{t-1}, r_t]),
        h_{t-1}, h^r_t], c_{t-1}), \\quad
        x_t = y + W_{out} * \\operatorname{Res}^{5}(h_t),

    with :math:`x_0 = r_0 = y`, zero states, and the same weights at every stage. Note the
    order of the states in the gates: each branch reads its own previous state first, and the
    image branch reads the rain branch's state *of this stage*.

    ``residual=False`` drops the :math:`y +`: :math:`x_t` is the clean image itself, as in the
    authors' class and every released BRN file. The default adds :math:`y`, so that a fresh
    network (both output convolutions zero) returns its input. Either way the rain layer of
    :meth:`forward` is :math:`y - x_T`; :meth:`bilateral_outputs` also gives the rain branch's
    own estimates :math:`r_t`.

    The authors' class defaults to ``recurrent_iter=4``, but their test scripts and every
    published figure run **8 stages**: the default here. Their files also hold two residual
    blocks of the rain branch (``res_conv4_r``, ``res_conv5_r``, 36,992 parameters) that their
    forward never uses; :func:`~rainkit.nn.families.brn.convert_authors_state` drops them.

    With the default settings: 375,526 parameters (168,835 in the rain branch) and a receptive
    field of 227 x 227 pixels, :math:`1 + 2 (13 T + 9)` (measured with
    :func:`~rainkit.nn.receptive_field`: 13 3x3 convolutions per stage on the image path, and
    the 9 of the first stage's rain branch before it).

    **Speed.** Under ``torch.no_grad()`` on a float32 CPU tensor the forward runs in the NHWC
    layout with the activations fused into oneDNN convolutions, the gates reading the three
    tensors without concatenating them, :math:`\\tanh` computed from the faster sigmoid, the
    zero states of the first stage skipped, and the updates in place: 1.76 times faster than
    the authors' formulation on a 481 x 321 image with one thread (``benchmarks/bench_brn.py``),
    same output to float rounding. Training, other devices, dtypes, autocast and
    ``torch.compile`` run the plain operators.

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and state channels of both branches.
        num_blocks: residual blocks of the image branch.
        rain_blocks: residual blocks of the rain branch.
        residual: add the rainy input to the image branch's output (default); ``False``
            predicts the clean image directly, as the authors' ``BRN``.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`, the last stage's image; with ``return_rain=True`` a
          tuple ``(derained, rain)`` with ``rain = input - derained``.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.brn import BRN
        >>> net = BRN()
        >>> sum(p.numel() for p in net.parameters())
        375526
        >>> x = torch.rand(1, 3, 7, 9)
        >>> bool((net(x) == x).all())  # a fresh network returns its input
        True
        >>> images, rains = BRN(stages=2, channels=4).bilateral_outputs(x)
        >>> len(images), rains[-1].shape
        (2, torch.Size([1, 3, 7, 9]))

    References:
        D. Ren, W. Shang, P. Zhu, Q. Hu, D. Meng, W. Zuo, "Single Image Deraining Using
        Bilateral Recurrent Network", IEEE Transactions on Image Processing 29, 2020.
    """

    def __init__(
        self,
        in_channels: int = 3,
        stages: int = 8,
        channels: int = 32,
        num_blocks: int = 5,
        rain_blocks: int = 3,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        self.rain_blocks = check_int(rain_blocks, "rain_blocks", minimum=0)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        # The rain branch first: the image branch's output convolution is the network's last.
        self.rain = _Branch(2 * in_channels, in_channels, channels, rain_blocks)
        self.image = _Branch(3 * in_channels, in_channels, channels, num_blocks)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        # The identity at initialisation: no rain estimated, x_t = y. Not the residual blocks:
        # a ReLU follows their last convolution, so a zero one would never train.
        zero_output_init_(self.rain.tail, self.image.tail)

    def _run(self, y: torch.Tensor, every: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        fused = fused_inference(y)
        y, fmt = _channels_last_for(y, fused)
        rain, image = self.rain, self.image
        x = r = y
        h: torch.Tensor | None = None
        c: torch.Tensor | None = None
        h_r: torch.Tensor | None = None
        c_r: torch.Tensor | None = None
        images: list[torch.Tensor] = []
        rains: list[torch.Tensor] = []
        for _ in range(self.stages):
            head = cast(nn.Conv2d, rain.head[0])
            z = conv2d_act(torch.cat([y, r], dim=1), head.weight, head.bias, "relu", fused=fused)
            h_r, c_r = lstm_step([z, h_r, h], c_r, rain.gates.weight, rain.gates.bias)
            z = rain.blocks(h_r)
            r = conv2d_act(z, rain.tail.weight, rain.tail.bias, fused=fused)
            head = cast(nn.Conv2d, image.head[0])
            z = conv2d_act(torch.cat([y, x, r], dim=1), head.weight, head.bias, "relu",
                           fused=fused)
            h, c = lstm_step([z, h, h_r], c, image.gates.weight, image.gates.bias)
            z = image.blocks(h)
            if self.residual:
                x = conv2d_add(z, image.tail.weight, image.tail.bias, y, fused=fused)
            else:
                x = conv2d_act(z, image.tail.weight, image.tail.bias, fused=fused)
            if every:
                images.append(x.contiguous(memory_format=fmt) if fused else x)
                rains.append(r.contiguous(memory_format=fmt) if fused else r)
        if not every:
            images.append(x.contiguous(memory_format=fmt) if fused else x)
        return images, rains

    def bilateral_outputs(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every stage's image :math:`x_t` and rain-branch estimate :math:`r_t` (what the
        authors' loss supervises): two lists of ``stages`` :math:`(B, C, H, W)` tensors."""
        check_network_input(x, self.in_channels, self)
        return self._run(x, every=True)

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image after each stage, a list of ``stages`` :math:`(B, C, H, W)` tensors."""
        return self.bilateral_outputs(x)[0]

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        derained = self._run(x, every=False)[0][-1]
        return derained, x - derained

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, num_blocks={self.num_blocks}, "
                f"rain_blocks={self.rain_blocks}, residual={self.residual}")

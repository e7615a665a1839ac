"""Mixture of experts feature compensator (MEFC), DRSformer's multi-operation module."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_network_input

__all__ = [
    "OPERATIONS",
    "DilatedConv",
    "MixtureOfExpertsFeatureCompensator",
    "OperationAttention",
    "OperationGroup",
    "OperationLayer",
    "SeparableConv",
]

#: The eight experts of an :class:`OperationLayer`, in the authors' order.
OPERATIONS: tuple[str, ...] = (
    "sep_conv_1x1", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7",
    "dil_conv_3x3", "dil_conv_5x5", "dil_conv_7x7", "avg_pool_3x3",
)


class SeparableConv(nn.Module):
    """Two depthwise-separable convolutions with a ReLU between them (DARTS' ``sep_conv``):
    depthwise :math:`k \\times k`, 1x1, ReLU, depthwise :math:`k \\times k`, 1x1; no biases.
    Submodule ``op`` holds the five layers under the authors' indices (0, 1, 2, 3, 4).

    Args:
        channels: input and output channels :math:`C`.
        kernel_size: odd :math:`k`; padding :math:`(k - 1) / 2` keeps the size.

    Shape:
        :math:`(B, C, H, W) \\to (B, C, H, W)`; receptive field :math:`2k - 1`.
    """

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        c, k = channels, kernel_size
        self.channels, self.kernel_size = c, k
        self.op = nn.Sequential(
            nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self.op
        hidden = layers[2](layers[1](_depthwise(layers[0], x)))
        result: torch.Tensor = layers[4](_depthwise(layers[3], hidden))
        return result

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"


def _depthwise(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A depthwise convolution; a 1x1 one as the per-channel product it is (PyTorch's CPU
    convolution runs a 1x1 depthwise layer one channel at a time)."""
    weight = cast(torch.Tensor, conv.weight)  # a Conv2d of this block's Sequential
    if weight.shape[-1] == 1 and weight.shape[-2] == 1 and conv.bias is None:
        return x * weight.view(1, -1, 1, 1)
    result: torch.Tensor = conv(x)
    return result


class DilatedConv(nn.Module):
    """A depthwise :math:`k \\times k` convolution of dilation 2 and a 1x1 convolution (DARTS'
    ``dil_conv``); no biases. Submodule ``op`` holds the two layers (authors' indices 0, 1).

    Args:
        channels: input and output channels :math:`C`.
        kernel_size: odd :math:`k`; padding :math:`k - 1` keeps the size.

    Shape:
        :math:`(B, C, H, W) \\to (B, C, H, W)`; receptive field :math:`2k - 1`.
    """

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        c, k = channels, kernel_size
        self.channels, self.kernel_size = c, k
        self.op = nn.Sequential(
            nn.Conv2d(c, c, k, padding=k - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.op(x)
        return result

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, dilation=2"


def _make_operation(name: str, channels: int) -> nn.Module:
    kind, _, size = name.rpartition("_")
    k = int(size.split("x")[0])
    if kind == "sep_conv":
        return SeparableConv(channels, k)
    if kind == "dil_conv":
        return DilatedConv(channels, k)
    return nn.AvgPool2d(k, stride=1, padding=k // 2, count_include_pad=False)


class _Pointwise(nn.Module):
    """A 1x1 convolution followed by a ReLU, under the authors' name ``op`` (``ReLUConv``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.op(x)
        return result


class OperationAttention(nn.Module):
    """How much each expert counts at each step, from the image's mean features (the
    authors' ``OALayer``).

    .. math::

        w = \\mathrm{softmax}_{\\text{ops}}\\Big(W_2 \\, \\mathrm{ReLU}\\big(W_1
        \\tfrac{1}{HW} \\textstyle\\sum_{i,j} x_{:,i,j} + b_1\\big) + b_2\\Big)

    reshaped to (steps, operations), the softmax over the operations of each step. The two
    linear layers are ``ca_fc.0`` and ``ca_fc.2`` (hidden width :math:`2 \\cdot` steps
    :math:`\\cdot` operations). A global average: every weight depends on the whole image.

    Args:
        channels: input channels :math:`C`.
        steps: number of steps :math:`S`.
        num_ops: number of operations :math:`O`.

    Shape:
        :math:`(B, C, H, W) \\to (B, S, O)`, rows summing to 1.
    """

    def __init__(self, channels: int, steps: int = 4, num_ops: int = len(OPERATIONS)) -> None:
        super().__init__()
        self.channels, self.steps, self.num_ops = channels, steps, num_ops
        self.ca_fc = nn.Sequential(
            nn.Linear(channels, 2 * steps * num_ops),
            nn.ReLU(),
            nn.Linear(2 * steps * num_ops, steps * num_ops),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.ca_fc(x.mean(dim=(2, 3)))
        result: torch.Tensor = logits.view(-1, self.steps, self.num_ops).softmax(dim=-1)
        return result

    def extra_repr(self) -> str:
        return f"channels={self.channels}, steps={self.steps}, num_ops={self.num_ops}"


class OperationLayer(nn.Module):
    """The eight experts of :data:`OPERATIONS` on the same input, each scaled by its weight,
    concatenated and mixed by a 1x1 convolution and a ReLU (``_out``).

    .. math::

        y = \\mathrm{ReLU}\\Big(W \\big[w_1 o_1(x), \\dots, w_8 o_8(x)\\big]\\Big)

    Computed without the concatenation: the last 1x1 convolution of each expert is folded into
    its slice of :math:`W` and the weights :math:`w_o` scale those products, accumulated in
    one buffer, which equals the authors' order of operations to float rounding.

    Args:
        channels: :math:`C`.

    Shape:
        ``forward(x, weights)``: :math:`(B, C, H, W)` and :math:`(B, 8)` to
        :math:`(B, C, H, W)`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self._ops = nn.ModuleList(_make_operation(name, channels) for name in OPERATIONS)
        self._out = nn.Sequential(
            nn.Conv2d(channels * len(OPERATIONS), channels, 1, bias=False), nn.ReLU())

    def _branches(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Each expert up to its last 1x1 convolution, and that convolution's weight."""
        out: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        for op in self._ops:
            if isinstance(op, SeparableConv):
                layers = op.op
                hidden = layers[1](_depthwise(layers[0], x))
                hidden = F.relu(hidden) if hidden.requires_grad else hidden.relu_()
                out.append((_depthwise(layers[3], hidden),
                            cast(torch.Tensor, layers[4].weight)))  # the 1x1 Conv2d
            elif isinstance(op, DilatedConv):
                out.append((cast(torch.Tensor, op.op[0](x)),
                            cast(torch.Tensor, op.op[1].weight)))  # Conv2d layers
            else:
                out.append((op(x), None))
        return out

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        mix = cast(torch.Tensor, self._out[0].weight).view(c, len(OPERATIONS), c)  # a Conv2d
        out: torch.Tensor | None = None
        for i, (feature, last) in enumerate(self._branches(x)):
            matrix = mix[:, i] if last is None else mix[:, i] @ last.view(c, c)
            # (B, C, C): this expert's weight for each image times its folded projection,
            # transposed to act on (B, HW, C) rows: channels-last, a view of the features.
            scaled = (weights[:, i].view(b, 1, 1) * matrix).transpose(1, 2)
            rows = feature.permute(0, 2, 3, 1).reshape(b, height * width, c)
            if out is None:
                out = rows @ scaled
            elif out.requires_grad or scaled.requires_grad or rows.requires_grad:
                out = torch.baddbmm(out, rows, scaled)
            else:
                out.baddbmm_(rows, scaled)
        assert out is not None  # eight experts
        return F.relu(out.view(b, height, width, c).permute(0, 3, 1, 2))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, operations={len(OPERATIONS)}"


class OperationGroup(nn.Module):
    """A 1x1 convolution and ReLU (``preprocess``), then :math:`S` residual
    :class:`OperationLayer` steps, :math:`s \\leftarrow \\mathrm{ReLU}(L_t(s, w_t) + s)` (the
    authors' ``GroupOLs``).

    Args:
        channels: :math:`C`.
        steps: :math:`S`.

    Shape:
        ``forward(x, weights)``: :math:`(B, C, H, W)` and :math:`(B, S, 8)` to
        :math:`(B, C, H, W)`.
    """

    def __init__(self, channels: int, steps: int = 4) -> None:
        super().__init__()
        self.channels, self.steps = channels, steps
        self.preprocess = _Pointwise(channels)
        self._ops = nn.ModuleList(OperationLayer(channels) for _ in range(steps))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        state = self.preprocess(x)
        for i, layer in enumerate(self._ops):
            state = F.relu(layer(state, weights[:, i]) + state)
        result: torch.Tensor = state
        return result

    def extra_repr(self) -> str:
        return f"channels={self.channels}, steps={self.steps}"


class MixtureOfExpertsFeatureCompensator(nn.Module):
    """Mixture of experts feature compensator (MEFC) of DRSformer: a small network of eight
    convolution and pooling experts per step (separable 1x1 to 7x7, dilated 3x3 to 7x7,
    average 3x3), mixed by weights that an attention layer draws from the image's mean
    features (the authors' ``subnet``).

    For each of ``num_layers`` layers: :class:`OperationAttention` gives the weights
    :math:`(B, S, 8)` of the current features, then :class:`OperationGroup` applies the
    :math:`S` steps. The ``layers`` list alternates the two, under the authors' names
    (``layers.0.ca_fc``, ``layers.1.preprocess``, ``layers.1._ops.<step>._ops.<expert>``), so
    the authors' state dicts load unchanged.

    Because the weights pool over the whole image, every output pixel depends on every input
    pixel (tiles are not exact).

    Args:
        channels: :math:`C`.
        steps: steps :math:`S` per layer (DRSformer: 4).
        num_layers: number of (attention, group) pairs (DRSformer: 1).

    Shape:
        - Input: :math:`(B, C, H, W)`, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`, non-negative (it ends with a ReLU).

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import MixtureOfExpertsFeatureCompensator
        >>> mefc = MixtureOfExpertsFeatureCompensator(8)
        >>> mefc(torch.rand(2, 8, 12, 10)).shape
        torch.Size([2, 8, 12, 10])

    References:
        X. Chen, H. Li, M. Li, J. Pan, "Learning A Sparse Transformer Network for Effective
        Image Deraining", CVPR 2023, Sec. 3.4. The experts follow DARTS (H. Liu, K. Simonyan,
        Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019).
    """

    def __init__(self, channels: int, *, steps: int = 4, num_layers: int = 1) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.steps = check_int(steps, "steps", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.layers = nn.ModuleList()
        for _ in range(self.num_layers):
            self.layers.append(OperationAttention(self.channels, self.steps))
            self.layers.append(OperationGroup(self.channels, self.steps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        for i in range(0, len(self.layers), 2):
            x = self.layers[i + 1](x, self.layers[i](x))
        return x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, steps={self.steps}, num_layers={self.num_layers}"

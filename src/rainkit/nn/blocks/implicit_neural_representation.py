"""NeRD-Rain's implicit neural representation (INR): an MLP decodes features into an image."""

from __future__ import annotations

import itertools
from typing import cast

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_network_input
from rainkit.nn.blocks._fused_conv import conv2d_act, fused_inference

__all__ = ["ImplicitNeuralRepresentation"]

_POSITIONAL_FREQUENCIES = 4  # L in the authors' mlp.py: 2 + 4L coordinate inputs


def _cell_products(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The relative cell sizes the authors' ``INR.forward`` feeds the MLP, computed as they do:
    ``float32(1 * (2 / h)) * h`` (and for ``w``); 2 up to float32 rounding."""
    one = torch.ones((), dtype=torch.float32)
    return one.mul(2 / h).mul(h), one.mul(2 / w).mul(w)


class ImplicitNeuralRepresentation(nn.Module):
    """NeRD-Rain's implicit neural representation: a LIIF-style MLP queried at every feature pixel.

    The authors' ``INR`` (after LIIF) decodes a feature map :math:`F` into an image: at each
    query point it feeds an MLP (hidden sizes 256, 256, 256, ReLU) with the 3x3 neighbourhood of
    the nearest feature (:math:`9C` values, zero outside), the query's coordinates relative to
    that feature with their sinusoidal encoding (:math:`2 + 4 \\cdot 4` values, scaled by the
    feature size) and the relative cell size (2 values), and blends the four nearest features'
    predictions by area (local ensemble). NeRD-Rain queries the **same grid as the features**:
    then every relative coordinate is exactly 0, the cell is :math:`(2, 2)` and the four
    ensemble members are one prediction with weights of 1/4 each. The decoder is therefore

    .. math::

        \\operatorname{INR}(F) = W_4 \\, \\rho(W_3 \\, \\rho(W_2 \\,
        \\rho(W_1^{F} * F + b_1 + 2 W_1^{cell} \\mathbf{1})))

    with :math:`W_1^{F}` the first layer's weights on the unfolded features read as a 3x3
    convolution, :math:`\\rho` the ReLU and :math:`W_{2,3,4}` 1x1 convolutions: one MLP pass,
    computed here as convolutions on the feature map (no unfolding, no ensemble of four equal
    passes). The parameters are the authors' (``imnet.layers.0/2/4/6``, linear layers with
    :math:`9C + 20` inputs to the first), so their files load as they are; the weights of the
    always-zero coordinate inputs have no effect.

    Args:
        channels: feature channels :math:`C`.
        hidden: hidden widths of the MLP.
        out_channels: image channels.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values.
        - Output: :math:`(B, C_{out}, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import ImplicitNeuralRepresentation
        >>> inr = ImplicitNeuralRepresentation(8)
        >>> inr(torch.rand(2, 8, 6, 5)).shape
        torch.Size([2, 3, 6, 5])
        >>> inr.imnet.layers[0].weight.shape  # 9 * 8 feature inputs + 20 coordinate inputs
        torch.Size([256, 92])

    References:
        X. Chen, J. Pan, J. Dong, "Bidirectional Multi-Scale Implicit Neural Representations for
        Image Deraining", CVPR 2024; Y. Chen, S. Liu, X. Wang, "Learning Continuous Image
        Representation with Local Implicit Image Function", CVPR 2021.
    """

    def __init__(self, channels: int, hidden: tuple[int, ...] = (256, 256, 256),
                 out_channels: int = 3) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        if not isinstance(hidden, (tuple, list)) or not hidden:
            raise TypeError(f"hidden must be a non-empty tuple of ints, got {hidden!r}")
        self.hidden = tuple(check_int(h, "hidden", minimum=1) for h in hidden)
        # 9C unfolded features, 2 + 4L coordinates, 2 cell sizes (the authors' layout).
        self.coordinate_inputs = 2 + 4 * _POSITIONAL_FREQUENCIES + 2
        widths = (9 * channels + self.coordinate_inputs, *self.hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], out_channels))
        self.imnet = nn.Module()
        self.imnet.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return self.decode(x)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without the input check (for networks that checked their input)."""
        layers = cast(nn.Sequential, self.imnet.layers)  # the Sequential of __init__
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        first = linears[0]
        c9 = 9 * self.channels
        weight = first.weight[:, :c9].reshape(first.out_features, self.channels, 3, 3)
        cell_h, cell_w = _cell_products(x.shape[-2], x.shape[-1])
        cell_h, cell_w = cell_h.to(first.weight), cell_w.to(first.weight)
        bias = first.bias + first.weight[:, -2] * cell_h + first.weight[:, -1] * cell_w
        fused = fused_inference(x)
        y = conv2d_act(x, weight, bias, "relu", fused=fused)
        for layer in linears[1:-1]:
            y = conv2d_act(y, layer.weight[:, :, None, None], layer.bias, "relu", fused=fused)
        last = linears[-1]
        return conv2d_act(y, last.weight[:, :, None, None], last.bias, fused=fused)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden={self.hidden}, out_channels={self.out_channels}"

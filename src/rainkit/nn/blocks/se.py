"""Squeeze-and-excitation channel gate, with the optional linear skip of SAPNet's CRA layer."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import check_layer_type, check_network_input, make_layer

__all__ = ["SqueezeExcite"]


class SqueezeExcite(nn.Module):
    """Scale each channel by a gate computed from the channel means (Hu et al.).

    .. math::

        p = \\frac{1}{HW} \\sum_{h, w} x_{:, h, w}, \\qquad
        s = \\sigma\\big(W_2\\, \\phi(W_1 p + b_1) + b_2 \\;[+\\, W_s p]\\big), \\qquad
        y = x \\odot s,

    where :math:`\\phi` is ``act_layer`` and the bracketed linear skip :math:`W_s p` (no bias)
    is present with ``skip=True``. The variants of rainkit's families:

    * RESCAN's ``SEBlock``: ``SqueezeExcite(24, 6)`` (Li et al. pass ``reduction=6`` and use it
      as the *hidden width*, so 24 -> 6 -> 24, with biases);
    * SAPNet's ``CRALayer``: ``SqueezeExcite(32, 2, bias=False, skip=True)`` (1x1 convolutions
      without bias, and a 1x1 convolution :math:`W_s` beside the bottleneck).

    The gate depends on the whole image (global average pooling), so a network using it cannot
    be tiled exactly. :meth:`scale` returns :math:`s` alone, for in-place use.

    Args:
        channels: channels :math:`C`.
        hidden: width of the bottleneck :math:`W_1 \\in \\mathbb{R}^{hidden \\times C}`.
        bias: give :math:`W_1, W_2` biases.
        skip: add the linear skip :math:`W_s p` inside the sigmoid.
        act_layer: activation type of the bottleneck, called with no arguments.

    Shape:
        - Input: :math:`(B, C, H, W)`.
        - Output: :math:`(B, C, H, W)`; :meth:`scale` gives :math:`(B, C, 1, 1)` in
          :math:`(0, 1)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks.se import SqueezeExcite
        >>> se = SqueezeExcite(8, 2)
        >>> x = torch.rand(2, 8, 5, 7)
        >>> se(x).shape, bool(((se(x) / x) < 1).all())
        (torch.Size([2, 8, 5, 7]), True)

    References:
        J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
    """

    def __init__(
        self,
        channels: int,
        hidden: int,
        bias: bool = True,
        skip: bool = False,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.hidden = check_int(hidden, "hidden", minimum=1)
        self.has_bias = check_bool(bias, "bias")
        self.has_skip = check_bool(skip, "skip")
        check_layer_type(act_layer, "act_layer")
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.act = make_layer(act_layer, "act_layer")
        self.fc2 = nn.Linear(hidden, channels, bias=bias)
        self.skip = nn.Linear(channels, channels, bias=False) if skip else None

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The gate :math:`s`, :math:`(B, C, 1, 1)` in :math:`(0, 1)`."""
        pooled = x.mean(dim=(2, 3))
        logits = self.fc2(self.act(self.fc1(pooled)))
        if self.skip is not None:
            logits = logits + self.skip(pooled)
        return torch.sigmoid(logits)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_network_input(x, self.channels, self)
        return x * self.scale(x)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, hidden={self.hidden}, bias={self.has_bias}, "
                f"skip={self.has_skip}")

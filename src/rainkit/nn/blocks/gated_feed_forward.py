"""Gated-Dconv feed-forward network (GDFN), Restormer's feed-forward block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int, check_positive
from rainkit.nn._common import check_network_input

__all__ = ["GatedDconvFeedForward", "gated_gelu", "hidden_width"]


def hidden_width(channels: int, expansion: float) -> int:
    """The hidden width of the authors' feed-forward blocks: ``int(channels * expansion)``,
    **truncated**, not rounded (Restormer's ``ffn_expansion_factor=2.66`` gives 127, 255, 510,
    1021 for 48, 96, 192, 384 channels, where ``round`` would give 128, 255, 511, 1021).

    Example:
        >>> [hidden_width(c, 2.66) for c in (24, 48, 96, 192, 384)]
        [63, 127, 255, 510, 1021]
    """
    return int(channels * expansion)


def gated_gelu(x: torch.Tensor) -> torch.Tensor:
    """The GDFN gate: split the channels in two halves :math:`x_1, x_2` and return
    :math:`\\mathrm{GELU}(x_1) \\odot x_2` (exact, erf-based GELU).

    Args:
        x: :math:`(B, 2C, H, W)`.

    Returns:
        :math:`(B, C, H, W)`. Without autograd the product is computed in place in the GELU's
        output (one buffer less).

    Example:
        >>> import torch
        >>> x = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
        >>> gated_gelu(x).flatten()  # GELU(1) * 2
        tensor([1.6827])
    """
    x1, x2 = x.chunk(2, dim=1)
    if torch.is_grad_enabled() and x.requires_grad:
        return F.gelu(x1) * x2
    return F.gelu(x1).mul_(x2)


class GatedDconvFeedForward(nn.Module):
    """Gated-Dconv feed-forward network (GDFN) of Restormer.

    .. math::

        \\hat{x} = W_d^{3\\times 3} W_p^{1\\times 1} x, \\qquad
        y = W_o^{1\\times 1}\\big(\\mathrm{GELU}(\\hat{x}_1) \\odot \\hat{x}_2\\big)

    where :math:`W_p` expands :math:`C` channels to :math:`2h`, :math:`W_d` is a depthwise
    3x3 convolution, :math:`\\hat{x}_1, \\hat{x}_2` are the two halves of :math:`\\hat{x}` and
    :math:`W_o` projects :math:`h` channels back to :math:`C`, with
    :math:`h = \\lfloor C \\cdot \\text{expansion} \\rfloor` (:func:`hidden_width`). No
    residual connection: the caller adds the input. Its layers are named as the authors'
    (``project_in``, ``dwconv``, ``project_out``), so their state dicts load unchanged.
    Receptive field: 3 x 3.

    Args:
        channels: input and output channels :math:`C`.
        expansion: hidden expansion factor (Restormer: 2.66).
        bias: whether the convolutions have biases (Restormer: ``False``).

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import GatedDconvFeedForward
        >>> ffn = GatedDconvFeedForward(48, expansion=2.66)
        >>> ffn.hidden, ffn(torch.rand(1, 48, 8, 12)).shape
        (127, torch.Size([1, 48, 8, 12]))

    References:
        S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, "Restormer: Efficient
        Transformer for High-Resolution Image Restoration", CVPR 2022, Sec. 3.2.
    """

    #: Rows (and columns) of context on each side that one output pixel depends on.
    radius = 1

    def __init__(self, channels: int, expansion: float = 2.66, *, bias: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.expansion = check_positive(expansion, "expansion")
        self.bias = check_bool(bias, "bias")
        self.hidden = hidden_width(self.channels, self.expansion)
        if self.hidden < 1:
            raise ValueError(f"int(channels * expansion) must be >= 1, got "
                             f"int({channels} * {expansion}) = {self.hidden}")
        wide = 2 * self.hidden
        self.project_in = nn.Conv2d(self.channels, wide, 1, bias=bias)
        self.dwconv = nn.Conv2d(wide, wide, 3, padding=1, groups=wide, bias=bias)
        self.project_out = nn.Conv2d(self.hidden, self.channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        result: torch.Tensor = self.project_out(gated_gelu(self.dwconv(self.project_in(x))))
        return result

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, expansion={self.expansion}, hidden={self.hidden}, "
                f"bias={self.bias}")

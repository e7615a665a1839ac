"""Mixed-scale feed-forward network (MSFN), DRSformer's feed-forward block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int, check_positive
from rainkit.nn._common import check_network_input
from rainkit.nn.blocks.gated_feed_forward import hidden_width

__all__ = ["MixedScaleFeedForward"]


def _relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU, in place when no gradient is recorded (``x`` is always a fresh buffer here)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return F.relu(x)
    return x.relu_()


class MixedScaleFeedForward(nn.Module):
    """Mixed-scale feed-forward network (MSFN) of DRSformer: two depthwise branches (3x3 and
    5x5) whose halves are exchanged and mixed by grouped convolutions.

    With :math:`h = \\lfloor C \\cdot \\text{expansion} \\rfloor` (:func:`hidden_width`):

    .. math::

        z = W_p^{1\\times1} x \\in \\mathbb{R}^{2h}, \\quad
        a = \\mathrm{ReLU}(D_3 z), \\quad b = \\mathrm{ReLU}(D_5 z), \\\\
        u = \\mathrm{ReLU}\\big(G_3 [a_{:h}, b_{:h}]\\big), \\quad
        v = \\mathrm{ReLU}\\big(G_5 [a_{h:}, b_{h:}]\\big), \\quad
        y = W_o^{1\\times1} [u, v]

    where :math:`D_k` are depthwise :math:`k \\times k` convolutions on :math:`2h` channels
    and :math:`G_k` are :math:`k \\times k` convolutions from :math:`2h` to :math:`h` channels
    in :math:`h` groups (two input channels per group, taken from the concatenation in
    order). No residual connection: the caller adds the input. Layer names are the authors'
    (``project_in``, ``dwconv3x3``, ``dwconv5x5``, ``dwconv3x3_1``, ``dwconv5x5_1``,
    ``project_out``). Receptive field: 9 x 9.

    Args:
        channels: input and output channels :math:`C`.
        expansion: hidden expansion factor (DRSformer: 2.66).
        bias: whether the convolutions have biases (DRSformer: ``False``).

    Shape:
        - Input: :math:`(B, C, H, W)`, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import MixedScaleFeedForward
        >>> ffn = MixedScaleFeedForward(16)
        >>> ffn.hidden, ffn(torch.rand(1, 16, 10, 12)).shape
        (42, torch.Size([1, 16, 10, 12]))

    References:
        X. Chen, H. Li, M. Li, J. Pan, "Learning A Sparse Transformer Network for Effective
        Image Deraining", CVPR 2023, Sec. 3.3.
    """

    #: Rows (and columns) of context on each side that one output pixel depends on.
    radius = 4

    def __init__(self, channels: int, expansion: float = 2.66, *, bias: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.expansion = check_positive(expansion, "expansion")
        self.bias = check_bool(bias, "bias")
        hidden = self.hidden = hidden_width(self.channels, self.expansion)
        if hidden < 1:
            raise ValueError(f"int(channels * expansion) must be >= 1, got "
                             f"int({channels} * {expansion}) = {hidden}")
        wide = 2 * hidden
        self.project_in = nn.Conv2d(self.channels, wide, 1, bias=bias)
        self.dwconv3x3 = nn.Conv2d(wide, wide, 3, padding=1, groups=wide, bias=bias)
        self.dwconv5x5 = nn.Conv2d(wide, wide, 5, padding=2, groups=wide, bias=bias)
        self.dwconv3x3_1 = nn.Conv2d(wide, hidden, 3, padding=1, groups=hidden, bias=bias)
        self.dwconv5x5_1 = nn.Conv2d(wide, hidden, 5, padding=2, groups=hidden, bias=bias)
        self.project_out = nn.Conv2d(wide, self.channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        z = self.project_in(x)
        a1, a2 = _relu(self.dwconv3x3(z)).chunk(2, dim=1)
        b1, b2 = _relu(self.dwconv5x5(z)).chunk(2, dim=1)
        u = _relu(self.dwconv3x3_1(torch.cat([a1, b1], dim=1)))
        v = _relu(self.dwconv5x5_1(torch.cat([a2, b2], dim=1)))
        result: torch.Tensor = self.project_out(torch.cat([u, v], dim=1))
        return result

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, expansion={self.expansion}, hidden={self.hidden}, "
                f"bias={self.bias}")

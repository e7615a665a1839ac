"""Pixel losses: Charbonnier; for L1 and L2 use torch.nn.L1Loss and torch.nn.MSELoss.

torch's own L1 and L2 losses already take ``(input, target)`` and a ``reduction``, run on every
device and under autocast, so rainkit does not wrap them; pass them straight to
:class:`~rainkit.loss.CombinedLoss`.
"""

from __future__ import annotations

import torch
from torch import nn

from rainkit._checks import (
    Reduction,
    check_floating_tensor,
    check_positive,
    check_reduction,
    check_same_shape,
    reduce,
)

__all__ = ["CharbonnierLoss", "charbonnier_loss"]


def charbonnier_loss(
    input: torch.Tensor, target: torch.Tensor, eps: float = 1e-3, reduction: Reduction = "mean"
) -> torch.Tensor:
    r"""Charbonnier loss, a differentiable L1 that is quadratic near zero.

    .. math:: \ell(x, y) = \sqrt{(x - y)^2 + \varepsilon^2}

    averaged (``"mean"``), summed (``"sum"``) or returned element-wise (``"none"``). Note that
    the minimum is :math:`\varepsilon`, not 0, as in the deraining papers that use it. With
    :math:`\varepsilon > 0` the gradient :math:`(x - y) / \ell` is defined everywhere (at
    :math:`\varepsilon = 0` it would be NaN wherever ``input == target``), so ``eps`` must be
    positive; a tiny one such as ``1e-6`` gives the L1 loss to within ``eps``.

    Args:
        input: the prediction, any shape, e.g. :math:`(B, C, H, W)` in :math:`[0, 1]`; a
            non-empty floating-point tensor (integer images would wrap around in ``x - y``:
            convert them with ``.float() / 255`` first).
        target: the reference, same shape as ``input``.
        eps: :math:`\varepsilon > 0`, the width of the quadratic zone (finite).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        A scalar, or a tensor of ``input``'s shape with ``reduction="none"``.

    Shape:
        - input, target: :math:`(*)`, the same shape.
        - output: :math:`()`, or :math:`(*)` with ``reduction="none"``.

    Example:
        >>> import torch
        >>> from rainkit.loss import charbonnier_loss
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> y = torch.tensor([[[[0.0, 3.0], [4.0, 0.0]]]])
        >>> round(charbonnier_loss(x, y, eps=1e-6).item(), 4)  # ~ mean |x - y|
        1.75

    References:
        P. Charbonnier, L. Blanc-Feraud, G. Aubert, M. Barlaud, "Two deterministic half-quadratic
        regularization algorithms for computed imaging", ICIP 1994; used for deraining by
        K. Jiang et al., "Multi-Scale Progressive Fusion Network", CVPR 2020.
    """
    check_floating_tensor(input, "input")
    check_floating_tensor(target, "target")
    check_same_shape(input, target)
    eps = check_positive(eps, "eps")
    check_reduction(reduction)
    # hypot, not sqrt(d * d + eps * eps): no overflow for a huge eps or difference, and no
    # underflow of eps * eps in float16 (1e-3 squared is below float16's smallest normal)
    return reduce(torch.hypot(input - target, input.new_tensor(eps)), reduction)


class CharbonnierLoss(nn.Module):
    """Module form of :func:`charbonnier_loss`.

    Args:
        eps: :math:`\\varepsilon > 0`.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Example:
        >>> import torch
        >>> from rainkit.loss import CharbonnierLoss
        >>> x = torch.rand(2, 3, 8, 8)
        >>> CharbonnierLoss()(x, x).item()  # eps at zero error
        0.001
    """

    def __init__(self, eps: float = 1e-3, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.eps = check_positive(eps, "eps")
        self.reduction: Reduction = check_reduction(reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return charbonnier_loss(input, target, self.eps, self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, reduction={self.reduction!r}"

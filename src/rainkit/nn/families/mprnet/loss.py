"""MPRNet's training loss: Charbonnier and edge terms summed over the three stage outputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rainkit._checks import check_floating_tensor, check_number, check_same_shape
from rainkit.loss import charbonnier_loss

__all__ = ["edge_loss", "laplacian_detail", "mprnet_loss"]

_TAPS = (0.05, 0.25, 0.4, 0.25, 0.05)


def _gauss(x: torch.Tensor) -> torch.Tensor:
    """5x5 binomial-like low-pass (outer product of ``_TAPS``), replicate borders, per channel."""
    k = torch.tensor(_TAPS, dtype=x.dtype, device=x.device)
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=x.shape[1])


def laplacian_detail(x: torch.Tensor) -> torch.Tensor:
    """One level of a Laplacian pyramid: :math:`x - G(\\uparrow_2 \\downarrow_2 G(x))`.

    :math:`G` is the 5x5 low-pass of taps (0.05, 0.25, 0.4, 0.25, 0.05) with replicated borders,
    :math:`\\downarrow_2` keeps every second pixel from the first, :math:`\\uparrow_2` puts them
    back in a zero image, times 4 (MPRNet's ``EdgeLoss.laplacian_kernel``).

    Shape:
        :math:`(B, C, H, W)` in, the same out.
    """
    low = _gauss(x)
    sparse = torch.zeros_like(low)
    sparse[:, :, ::2, ::2] = low[:, :, ::2, ::2] * 4
    return x - _gauss(sparse)


def edge_loss(input: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """MPRNet's edge loss: the Charbonnier loss between the :func:`laplacian_detail` of both.

    Args:
        input: the prediction :math:`(B, C, H, W)`.
        target: the ground truth, same shape.
        eps: the Charbonnier :math:`\\varepsilon`.

    Returns:
        A scalar.
    """
    check_floating_tensor(input, "input")
    check_floating_tensor(target, "target")
    check_same_shape(input, target)
    return charbonnier_loss(laplacian_detail(input), laplacian_detail(target), eps)


def mprnet_loss(
    outputs: Sequence[torch.Tensor], target: torch.Tensor, edge_weight: float = 0.05
) -> torch.Tensor:
    """MPRNet's loss: :math:`\\sum_s \\mathcal{L}_{char}(X_s, Y) + \\lambda \\mathcal{L}_{edge}
    (X_s, Y)` over the stage outputs :math:`X_s`, :math:`\\lambda = 0.05`.

    The authors' ``Deraining/train.py``: Charbonnier with :math:`\\varepsilon = 10^{-3}`
    (:func:`rainkit.loss.charbonnier_loss`) and :func:`edge_loss`, each summed over the three
    stage images, against the same full-size ground truth.

    Args:
        outputs: the stage images, e.g. :meth:`~rainkit.nn.families.mprnet.MPRNet.stage_outputs`
            (any order: the sum does not depend on it).
        target: the ground truth :math:`(B, C, H, W)` in :math:`[0, 1]`.
        edge_weight: :math:`\\lambda`.

    Returns:
        A scalar.

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> from rainkit.nn.families.mprnet import mprnet_loss
        >>> net = build_model("mprnet", channels=8, unet_channels=4, orsnet_channels=4, num_cab=1)
        >>> x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        >>> loss = mprnet_loss(net.stage_outputs(x), y)
        >>> loss.backward()
        >>> loss.ndim
        0

    References:
        S. W. Zamir et al., "Multi-Stage Progressive Image Restoration", CVPR 2021, eq. 2.
    """
    if isinstance(outputs, torch.Tensor) or not isinstance(outputs, Sequence) or not outputs:
        raise TypeError(f"outputs must be a non-empty sequence of tensors (the stage images), "
                        f"got {type(outputs).__name__}")
    weight = check_number(edge_weight, "edge_weight")
    total = torch.zeros((), dtype=target.dtype, device=target.device)
    for i, out in enumerate(outputs):
        check_floating_tensor(out, f"outputs[{i}]")
        check_same_shape(out, target)
        total = total + charbonnier_loss(out, target) + weight * edge_loss(out, target)
    return total

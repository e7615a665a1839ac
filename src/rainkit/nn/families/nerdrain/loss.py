"""NeRD-Rain's training loss: Charbonnier, FFT and edge terms over three scales, L1 on the INRs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rainkit._checks import check_floating_tensor
from rainkit.loss.pixel import charbonnier_loss
from rainkit.nn.families.mprnet.loss import edge_loss

__all__ = ["fft_loss", "nerdrain_loss", "pyramid"]


def fft_loss(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the 2-D Fourier transforms, :math:`\\operatorname{mean}
    |\\mathcal{F}(x) - \\mathcal{F}(y)|` (DeepRFT's ``fftLoss``, which NeRD-Rain's
    ``train.py`` uses; its ``losses.py`` is not in the NeRD-Rain repository)."""
    check_floating_tensor(input, "input")
    check_floating_tensor(target, "target")
    diff: torch.Tensor = torch.fft.fft2(input) - torch.fft.fft2(target)  # Any in torch's stubs
    return diff.abs().mean()


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    """kornia's ``pyrdown``: 5x5 Gaussian (1 4 6 4 1)/16, reflected borders, then bilinear
    resizing to :math:`(\\lfloor H/2 \\rfloor, \\lfloor W/2 \\rfloor)`."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    pad = "reflect" if min(x.shape[-2:]) > 2 else "replicate"
    blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode=pad), kernel, groups=x.shape[1])
    return F.interpolate(blurred, size=(x.shape[-2] // 2, x.shape[-1] // 2), mode="bilinear",
                         align_corners=False)


def pyramid(target: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """The ground truth at full, 1/2 and 1/4 scale (``kornia.geometry.transform.build_pyramid``,
    as NeRD-Rain's ``train.py`` builds it)."""
    out = [target]
    for _ in range(levels - 1):
        out.append(_pyr_down(out[-1]))
    return out


def _fit(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x[:, :, : like.shape[-2], : like.shape[-1]]


def nerdrain_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """NeRD-Rain's loss on the seven images of
    :meth:`~rainkit.nn.families.nerdrain.NeRDRain.stage_outputs`:

    .. math::

        \\sum_{s=0}^{2} \\Big(\\mathcal{L}_{char}(X_s, Y_s) + 0.01 \\, \\mathcal{L}_{fft}(X_s, Y_s)
        + 0.05 \\, \\mathcal{L}_{edge}(X_s, Y_s)\\Big)
        + 0.1 \\big(\\|X_3 - Y_1\\|_1 + \\|X_5 - Y_2\\|_1\\big)

    where :math:`X_0, X_1, X_2` are the full, 1/2 and 1/4 results, :math:`X_3, X_5` the images
    after the two INRs, and :math:`Y_s` the Gaussian pyramid of the ground truth
    (:func:`pyramid`), as in the authors' ``train.py`` (Charbonnier :math:`\\varepsilon = 10^{-3}`,
    MPRNet's edge loss, mean L1).

    Args:
        outputs: the seven images, in the authors' order.
        target: the ground truth :math:`(B, C, H, W)` in :math:`[0, 1]`.

    Returns:
        A scalar.

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> from rainkit.nn.families.nerdrain import nerdrain_loss
        >>> net = build_model("nerdrain", dim=8, num_blocks=1)
        >>> x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        >>> nerdrain_loss(net.stage_outputs(x), y).ndim
        0
    """
    if isinstance(outputs, torch.Tensor) or not isinstance(outputs, Sequence) or len(outputs) != 7:
        raise TypeError("outputs must be the sequence of 7 images of NeRDRain.stage_outputs, "
                        f"got {type(outputs).__name__}")
    check_floating_tensor(target, "target")
    ys = pyramid(target)
    total = torch.zeros((), dtype=target.dtype, device=target.device)
    for s in range(3):
        x = _fit(outputs[s], ys[s])
        total = (total + charbonnier_loss(x, ys[s]) + 0.01 * fft_loss(x, ys[s])
                 + 0.05 * edge_loss(x, ys[s]))
    l1 = F.l1_loss(_fit(outputs[3], ys[1]), ys[1]) + F.l1_loss(_fit(outputs[5], ys[2]), ys[2])
    return total + 0.1 * l1

"""MS-SSIM loss: one minus :func:`rainkit.metrics.ms_ssim`, with the metric's conventions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rainkit._checks import Reduction, check_image_tensor, check_reduction, reduce
from rainkit.metrics import MS_SSIM, ms_ssim
from rainkit.metrics.ms_ssim import Normalize, renamed_scale_weights

__all__ = ["MSSSIMLoss", "ms_ssim_loss"]


@renamed_scale_weights
def ms_ssim_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    scale_weights: Sequence[float] | None = None,
    normalize: Normalize = "relu",
    fewer_scales: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""MS-SSIM loss, one value per image then reduced.

    .. math:: \mathcal{L}(x, y) = 1 - \operatorname{MS-SSIM}(x, y)

    with :func:`rainkit.metrics.ms_ssim` (5 dyadic scales, Gaussian window, valid region, per
    channel then averaged), so the loss lies in :math:`[0, 1]` and is 0 for identical images.
    For training, ``normalize="simple"`` keeps a gradient where a scale's contrast-structure
    is negative (with ``"relu"`` the loss is then 1 with a zero gradient), and
    ``fewer_scales=True`` accepts patches smaller than 161 pixels.

    Args:
        input: the prediction :math:`(B, C, H, W)`, floating, in :math:`[0, L]`.
        target: the reference, same shape.
        data_range: :math:`L`; ``None`` means 1.0 for floating tensors.
        window_size: odd side of the Gaussian window.
        sigma: standard deviation of the window.
        k1: luminance constant.
        k2: contrast-structure constant.
        scale_weights: one exponent per scale, finest first (``None``: the paper's five,
            :data:`rainkit.metrics.MS_SSIM_WEIGHTS`); with ``fewer_scales=True`` the weights
            of the scales that do not fit are dropped. Called ``weights`` before rainkit 0.3
            (still accepted, with a :class:`FutureWarning`).
        normalize: ``"relu"`` or ``"simple"``, see :func:`rainkit.metrics.ms_ssim`.
        fewer_scales: score images too small for all the scales with fewer instead of raising.
        reduction: ``"none"`` (:math:`(B,)`), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A scalar, or :math:`(B,)` with ``reduction="none"``.

    Example:
        >>> import torch
        >>> from rainkit.loss import ms_ssim_loss
        >>> x = torch.rand(2, 3, 64, 64)
        >>> ms_ssim_loss(x, x, fewer_scales=True, reduction="none")
        tensor([0., 0.])

    References:
        Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multiscale structural similarity for image
        quality assessment", Asilomar 2003; H. Zhao et al., "Loss Functions for Image
        Restoration with Neural Networks", IEEE TCI 2017.
    """
    check_image_tensor(input, "input")
    reduction = check_reduction(reduction)
    values = ms_ssim(input, target, data_range=data_range, window_size=window_size, sigma=sigma,
                     k1=k1, k2=k2, scale_weights=scale_weights, normalize=normalize,
                     fewer_scales=fewer_scales, reduction="none")
    return reduce(1 - values, reduction)


class MSSSIMLoss(nn.Module):
    """Module form of :func:`ms_ssim_loss`; options are checked at construction.

    It holds a :class:`rainkit.metrics.MS_SSIM` (``reduction="none"``, attribute ``ms_ssim``),
    which checks the metric's options.

    Example:
        >>> import torch
        >>> from rainkit.loss import MSSSIMLoss
        >>> x = torch.rand(2, 3, 64, 64, requires_grad=True)
        >>> loss = MSSSIMLoss(fewer_scales=True)(x, torch.rand(2, 3, 64, 64))
        >>> loss.backward(); 0 < loss.item() <= 1
        True
    """

    @renamed_scale_weights
    def __init__(
        self,
        *,
        data_range: float | None = None,
        window_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        scale_weights: Sequence[float] | None = None,
        normalize: Normalize = "relu",
        fewer_scales: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.ms_ssim = MS_SSIM(data_range=data_range, window_size=window_size, sigma=sigma,
                               k1=k1, k2=k2, scale_weights=scale_weights,
                               normalize=normalize, fewer_scales=fewer_scales, reduction="none")
        self.reduction: Reduction = check_reduction(reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_image_tensor(input, "input")
        return reduce(1 - self.ms_ssim(input, target), self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

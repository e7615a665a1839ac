"""SSIM loss: one minus :func:`rainkit.metrics.ssim`, with the metric's conventions and speed."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._checks import Reduction, check_image_tensor, check_reduction, reduce
from rainkit.metrics import SSIM, ssim
from rainkit.metrics.ssim import check_window_options

__all__ = ["SSIMLoss", "ssim_loss"]


def ssim_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""SSIM loss, one value per image then reduced.

    .. math:: \mathcal{L}(x, y) = 1 - \operatorname{SSIM}(x, y)

    with :func:`rainkit.metrics.ssim` (Gaussian window, valid region, mean over channels), so
    the loss lies in :math:`[0, 2]` and is 0 for identical images.

    Args:
        input: the prediction :math:`(B, C, H, W)`, floating, in :math:`[0, L]`.
        target: the reference, same shape.
        data_range: :math:`L`; ``None`` means 1.0 for floating tensors.
        window_size: odd side of the Gaussian window; :math:`H, W \geq` ``window_size``.
        sigma: standard deviation of the window.
        k1: luminance constant.
        k2: contrast-structure constant.
        reduction: ``"none"`` (:math:`(B,)`), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A scalar, or :math:`(B,)` with ``reduction="none"``.

    Example:
        >>> import torch
        >>> from rainkit.loss import ssim_loss
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim_loss(x, x, reduction="none")
        tensor([0., 0.])

    References:
        Z. Wang et al., "Image quality assessment: from error visibility to structural
        similarity", IEEE TIP 2004; H. Zhao et al., "Loss Functions for Image Restoration with
        Neural Networks", IEEE TCI 2017.
    """
    check_image_tensor(input, "input")
    reduction = check_reduction(reduction)
    # the metric reads None as "the convention's value"; the loss has no convention
    check_window_options(window_size, sigma, k1, k2)
    values = ssim(input, target, data_range=data_range, window_size=window_size, sigma=sigma,
                  k1=k1, k2=k2, reduction="none")
    return reduce(1 - values, reduction)


class SSIMLoss(nn.Module):
    """Module form of :func:`ssim_loss`; options are checked at construction.

    It holds a :class:`rainkit.metrics.SSIM` (``reduction="none"``, attribute ``ssim``), which
    checks the window options; its settings read through (``loss.window_size``, ...).

    Example:
        >>> import torch
        >>> from rainkit.loss import SSIMLoss
        >>> x = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> loss = SSIMLoss()(x, torch.rand(2, 3, 16, 16))
        >>> loss.backward(); 0 < loss.item() <= 2
        True
    """

    def __init__(
        self,
        *,
        data_range: float | None = None,
        window_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        check_window_options(window_size, sigma, k1, k2)  # SSIM reads None as a default
        self.ssim = SSIM(data_range=data_range, window_size=window_size, sigma=sigma, k1=k1,
                         k2=k2, reduction="none")
        self.reduction: Reduction = check_reduction(reduction)

    @property
    def data_range(self) -> float | None:
        return self.ssim.data_range

    # never None here (checked at construction), where the metric's None means "the
    # convention's value"
    @property
    def window_size(self) -> int:
        return int(self._setting(self.ssim.window_size))

    @property
    def sigma(self) -> float:
        return self._setting(self.ssim.sigma)

    @property
    def k1(self) -> float:
        return self._setting(self.ssim.k1)

    @property
    def k2(self) -> float:
        return self._setting(self.ssim.k2)

    @staticmethod
    def _setting(value: float | None) -> float:
        if value is None:  # pragma: no cover - only if someone empties the metric's setting
            raise ValueError("the SSIM metric of this loss has no value for this setting")
        return value

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_image_tensor(input, "input")
        return reduce(1 - self.ssim(input, target), self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

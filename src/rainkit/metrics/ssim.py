"""Structural similarity (SSIM) with a Gaussian window, filtered separably."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rainkit._validation import Reduction, check_int, check_positive
from rainkit.metrics._prepare import check_options, finish, prepare

__all__ = ["SSIM", "ssim"]


def _check_window(window_size: object, sigma: object, k1: object, k2: object) -> None:
    size = check_int(window_size, "window_size", minimum=1)
    if size % 2 == 0:
        raise ValueError(f"window_size must be an odd int >= 1, got {size}")
    check_positive(sigma, "sigma")
    check_positive(k1, "k1")
    check_positive(k2, "k2")


def _gaussian(window_size: int, sigma: float, dtype: torch.dtype,
              device: torch.device) -> torch.Tensor:
    coords = torch.arange(window_size, dtype=torch.float64) - (window_size - 1) / 2
    g = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def _filter(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of ``(N, H, W)`` maps, one channel per map."""
    k = kernel.numel()
    x = maps.unsqueeze(1)
    x = F.conv2d(x, kernel.view(1, 1, 1, k))
    x = F.conv2d(x, kernel.view(1, 1, k, 1))
    return x.squeeze(1)


def _ssim_per_image(x: torch.Tensor, y: torch.Tensor, data_range: float, window_size: int,
                    sigma: float, k1: float, k2: float) -> torch.Tensor:
    b, c, h, w = x.shape
    kernel = _gaussian(window_size, sigma, x.dtype, x.device)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    maps = torch.stack((x, y, x * x, y * y, x * y), dim=1).view(b * 5 * c, h, w)
    f = _filter(maps, kernel).view(b, 5, c, h - window_size + 1, w - window_size + 1)
    mu_x, mu_y, xx, yy, xy = f.unbind(1)
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    mu_xy = mu_x * mu_y
    num = (2 * mu_xy + c1) * (2 * (xy - mu_xy) + c2)
    den = (mu_xx + mu_yy + c1) * (xx + yy - mu_xx - mu_yy + c2)
    return (num / den).mean(dim=(1, 2, 3))


def ssim(
    input: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""Structural similarity index with a Gaussian window, one value per image.

    With local Gaussian-weighted means :math:`\mu`, variances :math:`\sigma^2` and covariance
    :math:`\sigma_{xy}` (population form, window ``window_size`` with standard deviation
    ``sigma``), the SSIM map is

    .. math::

        \text{SSIM}(x, y) = \frac{(2 \mu_x \mu_y + C_1)(2 \sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}, \qquad
        C_1 = (k_1 L)^2,\; C_2 = (k_2 L)^2

    and the score of an image is its mean over the *valid* region (no padding: the map is
    :math:`(H - \text{window\_size} + 1) \times (W - \text{window\_size} + 1)`) and over
    channels. With the defaults this equals scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=L, channel_axis=-1)``. Identical images give exactly ``1``.

    The Gaussian filter runs as two 1-D passes over the five maps
    :math:`x, y, x^2, y^2, xy` of all channels at once.

    Args:
        input: the restored image(s): a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)`
            (any floating dtype and device, differentiable), or a numpy array :math:`(H, W)`
            or :math:`(H, W, C)` of dtype uint8, uint16 or float.
        target: the reference image(s), same type, shape and dtype as ``input``.
        data_range: the dynamic range :math:`L`. ``None`` (default) takes it from the dtype:
            ``1.0`` for floating inputs (images in :math:`[0, 1]`), ``255`` for uint8 and
            ``65535`` for uint16 arrays. It is never guessed from the values; an explicit
            value always wins.
        crop_border: pixels dropped on each side before scoring.
        y_channel: score the luma ``Y`` of BT.601 limited-range YCbCr (see
            :func:`rgb_to_y`); needs 3 channels.
        window_size: odd side of the Gaussian window (11 in the paper).
        sigma: standard deviation of the Gaussian window (1.5 in the paper).
        k1: stabilising constant for the luminance term.
        k2: stabilising constant for the contrast-structure term.
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor inputs (shape :math:`(B,)` for ``"none"``, else a scalar), in the
        input's dtype (float32 for float16/bfloat16 inputs); a Python float for numpy inputs
        (computed in float64; a numpy array of shape :math:`(1,)` for ``"none"``). Values lie
        in :math:`[-1, 1]`.

    Shape:
        - input: :math:`(B, C, H, W)`, :math:`(C, H, W)`, or numpy :math:`(H, W)`,
          :math:`(H, W, C)`; :math:`H, W \geq` ``window_size`` after cropping.
        - target: same as ``input``.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x).item()
        1.0
        >>> ssim(x, x.flip(-1), reduction="none").shape
        torch.Size([2])

    References:
        Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment:
        from error visibility to structural similarity", IEEE Transactions on Image Processing
        13(4), 2004.
    """
    _check_window(window_size, sigma, k1, k2)
    p = prepare(input, target, data_range=data_range, crop_border=crop_border,
                y_channel=y_channel, reduction=reduction)
    height, width = p.input.shape[-2:]
    if min(height, width) < window_size:
        raise ValueError(
            f"images must be at least window_size={window_size} pixels on each side"
            f"{' after crop_border' if crop_border else ''}, got {height}x{width}"
        )
    values = _ssim_per_image(p.input, p.target, p.data_range, window_size, float(sigma),
                             float(k1), float(k2))
    return finish(values, reduction, p.numpy)


class SSIM(nn.Module):
    """Structural similarity as a module; see :func:`ssim` for the arguments.

    Options are checked when the module is built.

    Example:
        >>> import torch
        >>> metric = SSIM(reduction="none")
        >>> x = torch.rand(2, 3, 16, 16)
        >>> metric(x, x)
        tensor([1., 1.])
    """

    def __init__(self, *, data_range: float | None = None, crop_border: int = 0,
                 y_channel: bool = False, window_size: int = 11, sigma: float = 1.5,
                 k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_options(data_range, crop_border, y_channel, reduction)
        _check_window(window_size, sigma, k1, k2)
        self.data_range = data_range
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.window_size = window_size
        self.sigma = sigma
        self.k1 = k1
        self.k2 = k2
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim(input, target, data_range=self.data_range, crop_border=self.crop_border,
                    y_channel=self.y_channel, window_size=self.window_size, sigma=self.sigma,
                    k1=self.k1, k2=self.k2, reduction=self.reduction)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return (f"data_range={self.data_range}, crop_border={self.crop_border}, "
                f"y_channel={self.y_channel}, window_size={self.window_size}, "
                f"sigma={self.sigma}, k1={self.k1}, k2={self.k2}, reduction={self.reduction!r}")

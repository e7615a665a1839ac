"""Shared pieces of the no-reference metrics NIQE and BRISQUE (private).

Everything here follows the authors' MATLAB releases from LIVE (UT Austin), which NIQE's
``computequality.m`` and BRISQUE's ``brisque_feature.m`` share:

* the grey image on the 0-255 scale, rounded to integers as MATLAB's ``rgb2gray`` does on the
  8-bit file (:func:`to_grey255`);
* MSCN coefficients, :math:`\\hat I = (I - \\mu) / (\\sigma + 1)` with a 7x7 Gaussian window of
  :math:`\\sigma = 7/6` (:func:`mscn`);
* moment-matching fits of a generalised Gaussian (GGD) and an asymmetric one (AGGD) by a search
  over the shape grid ``0.2:0.001:10`` (:func:`ggd_fit`, :func:`aggd_fit`);
* MATLAB's ``imresize(I, 0.5)``: bicubic with antialiasing (:func:`imresize_half`).

All arithmetic is float64 (float32 on Apple MPS, which has no float64), as MATLAB's ``double``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import gamma as _gamma_fn

from rainkit._checks import check_choice, check_finite, check_image_tensor, check_int
from rainkit.metrics._prepare import _numpy_to_tensor

__all__ = [
    "GREY_CONVENTIONS",
    "RGB_TO_GREY",
    "aggd_fit",
    "ggd_fit",
    "imresize_half",
    "mscn",
    "nr_input",
    "shape_grid_tables",
    "to_grey255",
]

#: MATLAB ``rgb2gray``: the first row of the inverse of the NTSC (YIQ) matrix of ``ntsc2rgb``,
#: i.e. ``inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703])(1, :)``.
RGB_TO_GREY = (0.298936021293775, 0.587043074451121, 0.114020904255103)

# BT.601 limited-range luma on the 0-255 scale for R, G, B in [0, 1] (BasicSR's to_y_channel).
_BT601_Y = (65.481, 128.553, 24.966)

#: The grey conversions the no-reference metrics offer: ``"live"`` (MATLAB ``rgb2gray`` of the
#: 8-bit image, as the authors' scripts) and ``"basicsr"`` (Y of BT.601 YCbCr, BasicSR's
#: ``calculate_niqe(convert_to="y")``).
GREY_CONVENTIONS = ("live", "basicsr")

# The half-size Gaussian window: fspecial('gaussian', 7, 7/6) is the outer product of this.
_WINDOW_RADIUS = 3
_WINDOW_SIGMA = 7.0 / 6.0


def _wide_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def nr_input(
    image: object, name: str, crop_border: object, convention: object, *, minimum: int
) -> tuple[torch.Tensor, torch.dtype, bool]:
    """Check and convert a no-reference metric's input to grey :math:`(B, 1, H, W)` on 0-255.

    Args:
        image: a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)` with ``C`` 1 or 3, values in
            :math:`[0, 1]`; or a numpy array :math:`(H, W)` / :math:`(H, W, C)` of dtype uint8,
            uint16 or float (:math:`[0, 1]`).
        name: the metric's name, for messages.
        crop_border: pixels removed on each side (an int ``>= 0``).
        convention: one of :data:`GREY_CONVENTIONS`.
        minimum: the smallest height and width allowed after cropping.

    Returns:
        ``(grey, out_dtype, is_numpy)``: the rounded grey image (float64 unless on MPS), the
        dtype results are returned in, and whether the input was a numpy array.
    """
    convention = check_choice(convention, GREY_CONVENTIONS, "convention")
    border = check_int(crop_border, "crop_border", minimum=0)
    if isinstance(image, np.ndarray):
        tensor, data_range = _numpy_to_tensor(image, "image")  # checks finiteness
        tensor = tensor / data_range
        out_dtype, is_numpy = torch.float64, True
    elif isinstance(image, torch.Tensor):
        tensor = check_image_tensor(image, "image", ndims=(3, 4), channels=(1, 3))
        check_finite(tensor, "image")  # the value is read anyway (one sync, as every metric)
        tensor = tensor if tensor.ndim == 4 else tensor.unsqueeze(0)
        out_dtype = tensor.dtype if tensor.dtype == torch.float64 else torch.float32
        is_numpy = False
    else:
        raise TypeError(
            f"image must be a torch.Tensor or a numpy array, got {type(image).__name__}"
        )
    if tensor.shape[1] not in (1, 3):
        raise ValueError(
            f"image must have 1 (grey) or 3 (RGB) channels, got {tensor.shape[1]} (shape "
            f"{tuple(image.shape)})"
        )
    height, width = tensor.shape[-2] - 2 * border, tensor.shape[-1] - 2 * border
    if height < minimum or width < minimum:
        raise ValueError(
            f"{name} needs an image of at least {minimum}x{minimum} pixels after crop_border, "
            f"got {tensor.shape[-2]}x{tensor.shape[-1]} with crop_border={border}"
        )
    grey = to_grey255(tensor.detach().to(_wide_dtype(tensor.device)), convention)
    if border:
        grey = grey[..., border:-border, border:-border]
    return grey, out_dtype, is_numpy


def to_grey255(image: torch.Tensor, convention: str = "live") -> torch.Tensor:
    r"""The grey image on the 0-255 scale, rounded to integers like an 8-bit file.

    ``"live"``: MATLAB's ``rgb2gray`` of the 8-bit image (:data:`RGB_TO_GREY`), rounded half
    away from zero as MATLAB's conversion to ``uint8``. ``"basicsr"``:
    :math:`Y = 16 + (65.481 R + 128.553 G + 24.966 B)` rounded half to even (``np.round``).
    Values are first clamped to :math:`[0, 1]` (an 8-bit file saturates). One-channel input is
    taken as grey already and only scaled, clamped and rounded.

    Args:
        image: :math:`(B, C, H, W)` with ``C`` 1 or 3, values in :math:`[0, 1]`.
        convention: ``"live"`` or ``"basicsr"``.

    Returns:
        :math:`(B, 1, H, W)`, integers in :math:`[0, 255]`, same dtype.
    """
    x = image.clamp(0.0, 1.0)
    if x.shape[1] == 1:
        return torch.floor(x * 255.0 + 0.5)
    if convention == "basicsr":
        r, g, b = x.unbind(1)
        y = r * _BT601_Y[0] + g * _BT601_Y[1] + b * _BT601_Y[2] + 16.0
        return torch.round(y).unsqueeze(1)
    r, g, b = (x * 255.0).unbind(1)
    grey = r * RGB_TO_GREY[0] + g * RGB_TO_GREY[1] + b * RGB_TO_GREY[2]
    return torch.floor(grey + 0.5).unsqueeze(1)


def _window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.arange(-_WINDOW_RADIUS, _WINDOW_RADIUS + 1, dtype=torch.float64)
    w = torch.exp(-(t * t) / (2.0 * _WINDOW_SIGMA**2))
    return (w / w.sum()).to(dtype=dtype, device=device)


def _blur(x: torch.Tensor, padding: str) -> torch.Tensor:
    w = _window(x.dtype, x.device)
    r = _WINDOW_RADIUS
    if padding == "replicate":
        x = F.pad(x, (r, r, r, r), mode="replicate")
        x = F.conv2d(x, w.view(1, 1, -1, 1))
        return F.conv2d(x, w.view(1, 1, 1, -1))
    x = F.conv2d(x, w.view(1, 1, -1, 1), padding=(r, 0))
    return F.conv2d(x, w.view(1, 1, 1, -1), padding=(0, r))


def mscn(grey: torch.Tensor, padding: str) -> torch.Tensor:
    r"""Mean-subtracted contrast-normalised coefficients of grey images on the 0-255 scale.

    .. math::

        \hat I = \frac{I - \mu}{\sigma + 1}, \quad \mu = w * I, \quad
        \sigma = \sqrt{\lvert w * I^2 - \mu^2 \rvert}

    with :math:`w` the normalised 7x7 Gaussian of :math:`\sigma = 7/6`. Where all pixels of
    the window are equal the coefficient is exactly 0 (as in exact arithmetic).

    Args:
        grey: :math:`(N, 1, H, W)`.
        padding: ``"replicate"`` (NIQE's ``imfilter(..., 'replicate')``) or ``"zeros"``
            (BRISQUE's ``filter2(..., 'same')``).
    """
    mu = _blur(grey, padding)
    sigma = torch.sqrt(torch.abs(_blur(grey * grey, padding) - mu * mu))
    out = (grey - mu) / (sigma + 1.0)
    # A window of equal pixels has MSCN exactly 0. Rounding in the filter would leave +-1e-14
    # there instead, and NIQE/BRISQUE count the *signs* of the coefficients (the AGGD's left
    # and right halves), so saturated or flat regions would make the score depend on the
    # filter's summation order (by up to 0.3 NIQE on rain-dev photos): set them to 0 exactly.
    r = _WINDOW_RADIUS
    mode = "replicate" if padding == "replicate" else "constant"
    padded = F.pad(grey, (r, r, r, r), mode=mode)
    high = F.max_pool2d(padded, 2 * r + 1, stride=1)
    low = -F.max_pool2d(-padded, 2 * r + 1, stride=1)
    return torch.where(high == low, torch.zeros_like(out), out)


@functools.lru_cache(maxsize=8)
def _tables_numpy() -> dict[str, np.ndarray]:
    # MATLAB's 0.2:0.001:10 (9801 values), and the functions of the shape the fits use,
    # computed with the gamma function itself as the scripts do.
    shape = (200.0 + np.arange(9801)) / 1000.0
    g1, g2, g3 = _gamma_fn(1.0 / shape), _gamma_fn(2.0 / shape), _gamma_fn(3.0 / shape)
    return {
        "shape": shape,
        "ggd_ratio": g1 * g3 / (g2 * g2),  # decreasing in the shape
        "aggd_ratio": g2 * g2 / (g1 * g3),  # increasing
        "beta_factor": np.sqrt(g1 / g3),  # sqrt(gamma(1/a) / gamma(3/a))
        "mean_factor": g2 / g1,  # gamma(2/a) / gamma(1/a)
    }


def shape_grid_tables(dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """The shape grid ``0.2:0.001:10`` and the gamma-function ratios at each of its points."""
    return {k: torch.from_numpy(v).to(dtype=dtype, device=device)
            for k, v in _tables_numpy().items()}


def _nearest(table: torch.Tensor, target: torch.Tensor, squared: bool) -> torch.Tensor:
    """Index of the grid point nearest ``target`` in an increasing ``table``.

    The same index as MATLAB's ``[~, i] = min(abs(table - t))`` (or of the squared difference):
    the first minimum; a NaN target gives the first index (MATLAB's ``min`` of all NaN).
    """
    t = target.contiguous()
    right = torch.searchsorted(table, t).clamp(1, table.numel() - 1)
    left = right - 1
    d_left, d_right = table[left] - t, table[right] - t
    if squared:
        d_left, d_right = d_left * d_left, d_right * d_right
    else:
        d_left, d_right = d_left.abs(), d_right.abs()
    index = torch.where(d_right < d_left, right, left)
    return torch.where(torch.isnan(t), torch.zeros_like(index), index)


def ggd_fit(x: torch.Tensor, tables: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fit a zero-mean generalised Gaussian to each row of ``x`` (BRISQUE's ``estimateggdparam``).

    :math:`\rho = E[x^2] / E[|x|]^2` is matched with :math:`\Gamma(1/a)\Gamma(3/a)/\Gamma(2/a)^2`
    over the grid.

    Args:
        x: :math:`(N, L)` samples.
        tables: :func:`shape_grid_tables`.

    Returns:
        ``(shape, variance)``, each :math:`(N,)`; the variance is :math:`E[x^2]`.
    """
    sigma_sq = (x * x).mean(dim=-1)
    e_abs = x.abs().mean(dim=-1)
    rho = sigma_sq / (e_abs * e_abs)
    # the ratio decreases with the shape: search the flipped (increasing) table
    flipped = tables["ggd_ratio"].flip(0)
    index = tables["shape"].numel() - 1 - _nearest(flipped, rho, squared=False)
    # a NaN rho takes MATLAB's first index (0.2), not the last
    index = torch.where(torch.isnan(rho), torch.zeros_like(index), index)
    return tables["shape"][index], sigma_sq


def aggd_fit(
    x: torch.Tensor, tables: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Fit an asymmetric generalised Gaussian to each row of ``x`` (``estimateaggdparam``).

    .. math::

        \sigma_l = \sqrt{E[x^2 \mid x < 0]}, \quad \sigma_r = \sqrt{E[x^2 \mid x > 0]}, \quad
        \hat\gamma = \sigma_l / \sigma_r, \quad \hat r = E[|x|]^2 / E[x^2]

        \hat R = \hat r \, \frac{(\hat\gamma^3 + 1)(\hat\gamma + 1)}{(\hat\gamma^2 + 1)^2}
        \approx \frac{\Gamma(2/a)^2}{\Gamma(1/a)\Gamma(3/a)}

    Args:
        x: :math:`(N, L)` samples.
        tables: :func:`shape_grid_tables`.

    Returns:
        ``(shape, sigma_left, sigma_right, index)``: each :math:`(N,)`; ``index`` is the
        shape's position on the grid (to look up gamma-function ratios). Rows without negative
        (or positive) values give NaN deviations, as MATLAB's ``mean`` of nothing.
    """
    neg = (x < 0).to(x.dtype)
    pos = (x > 0).to(x.dtype)
    sq = x * x
    left = torch.sqrt((sq * neg).sum(dim=-1) / neg.sum(dim=-1))
    right = torch.sqrt((sq * pos).sum(dim=-1) / pos.sum(dim=-1))
    ratio = left / right
    e_abs = x.abs().mean(dim=-1)
    r_hat = e_abs * e_abs / sq.mean(dim=-1)
    r_norm = r_hat * (ratio**3 + 1.0) * (ratio + 1.0) / (ratio * ratio + 1.0) ** 2
    index = _nearest(tables["aggd_ratio"], r_norm, squared=True)
    return tables["shape"][index], left, right, index


@functools.lru_cache(maxsize=64)
def _resize_weights(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights of MATLAB's ``imresize(..., 0.5)`` along one dimension.

    Bicubic (Keys, :math:`a = -0.5`) with antialiasing: the kernel is stretched by 2,
    :math:`h(x) = \\tfrac12 k(x / 2)`, over 10 taps; borders mirror symmetrically (MATLAB's
    ``contributions`` and ``resizeAlongDim``).
    """
    scale = 0.5
    kernel_width = 4.0 / scale
    out_length = math.ceil(length * scale)
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based
    distance = scale * (u[:, None] - indices)
    a = np.abs(distance)
    cubic = ((1.5 * a**3 - 2.5 * a**2 + 1.0) * (a <= 1)
             + (-0.5 * a**3 + 2.5 * a**2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2)))
    weights = scale * cubic
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(length), np.arange(length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * length)]
    return indices, weights


def imresize_half(x: torch.Tensor) -> torch.Tensor:
    r"""MATLAB's ``imresize(I, 0.5)`` (bicubic, antialiasing) of :math:`(N, C, H, W)` images.

    The output is :math:`\lceil H/2 \rceil \times \lceil W/2 \rceil`; rows are resized first,
    then columns, as MATLAB does for equal scales. Not rounded (MATLAB keeps ``double``).
    """
    for dim in (-2, -1):
        idx, w = _resize_weights(x.shape[dim])
        index = torch.from_numpy(idx).to(x.device)
        weight = torch.from_numpy(w).to(dtype=x.dtype, device=x.device)
        moved = x.movedim(dim, -1)
        x = (moved[..., index] * weight).sum(dim=-1).movedim(-1, dim)
    return x

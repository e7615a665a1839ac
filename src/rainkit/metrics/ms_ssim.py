"""Multi-scale structural similarity (MS-SSIM), built on SSIM's strips and fused moments."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec, TypeVar, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from rainkit._checks import Reduction, check_choice, check_positive, renamed_keyword
from rainkit.metrics._kernels import (
    cs_terms,
    filter_adjoint,
    gaussian_window,
    row_strips,
    ssim_constants,
    ssim_map_backward,
    ssim_terms,
)
from rainkit.metrics._prepare import check_options, check_window_conflicts, finish, prepare
from rainkit.metrics.conventions import Quantize, ScoringConvention, resolve_convention
from rainkit.metrics.ssim import check_window_options

__all__ = ["MS_SSIM", "MS_SSIM_WEIGHTS", "ms_ssim"]

#: The scale weights of Wang, Simoncelli and Bovik (2003), finest scale first.
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

Normalize = Literal["relu", "simple"]
_NORMALIZE = ("relu", "simple")


P = ParamSpec("P")
R = TypeVar("R")


def renamed_scale_weights(func: Callable[P, R]) -> Callable[P, R]:
    """Keep MS-SSIM's old keyword ``weights=`` working after its rename to ``scale_weights=``
    (``weights`` means backbone files elsewhere in rainkit): a value gives a
    :class:`FutureWarning`; ``weights=None``, the default that older callers pass on, is
    dropped without a word."""
    renamed = renamed_keyword("weights", "scale_weights", since="0.3")(func)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if "weights" in kwargs and kwargs["weights"] is None:
            del kwargs["weights"]
        return renamed(*args, **kwargs)

    return wrapper


def check_ms_options(scale_weights: object, normalize: object,
                     fewer_scales: object) -> tuple[float, ...]:
    """Validate MS-SSIM's own options (shared with :class:`rainkit.loss.MSSSIMLoss`); return
    the scale weights as a tuple of floats."""
    if scale_weights is None:
        scale_weights = MS_SSIM_WEIGHTS
    if isinstance(scale_weights, (str, bytes)) or not isinstance(scale_weights, Sequence):
        raise TypeError(f"scale_weights must be a sequence of numbers, got "
                        f"{type(scale_weights).__name__}")
    if len(scale_weights) == 0:
        raise ValueError("scale_weights must hold at least one weight (one per scale), got none")
    out = tuple(check_positive(w, f"scale_weights[{i}]", strict=False)
                for i, w in enumerate(scale_weights))
    check_choice(normalize, _NORMALIZE, "normalize")
    if not isinstance(fewer_scales, bool):
        raise TypeError(f"fewer_scales must be a bool, got {type(fewer_scales).__name__}")
    return out


def min_size(window_size: int, scales: int) -> int:
    r"""The smallest side (after ``crop_border``) that ``scales`` scales need: the coarsest
    scale, :math:`\lceil H / 2^{scales - 1} \rceil` pixels, must hold one window."""
    return (window_size - 1) * (1 << (scales - 1)) + 1


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling; an odd last row or column is kept as it is.

    ``ceil_mode`` averages the last, partial window over the pixels it holds, which equals the
    reference MATLAB code's ``imfilter(..., 'symmetric')`` followed by ``x(1:2:end, 1:2:end)``.
    """
    return F.avg_pool2d(x, kernel_size=2, ceil_mode=True)


class _ScaleFunction(torch.autograd.Function):
    r"""Per-channel mean of one scale's contrast-structure map (``luminance=False``) or SSIM
    map (``luminance=True``), with an analytic backward.

    The SSIM case is :class:`rainkit.metrics.ssim._SSIMFunction`'s with per-channel means. For
    the contrast-structure map :math:`A_2 / B_2` (terms of
    :func:`rainkit.metrics._kernels.ssim_terms`), :math:`g_{A_2} = 1 / B_2`,
    :math:`g_{B_2} = -A_2 / B_2^2` and

    .. math::

        \frac{\partial}{\partial \overline{a^2}} = g_{A_2} + g_{B_2}, \quad
        \frac{\partial}{\partial \overline{d^2}} = g_{B_2} - g_{A_2}, \quad
        \frac{\partial}{\partial \bar a} = -2 \bar a (g_{A_2} + g_{B_2}), \quad
        \frac{\partial}{\partial \bar d} = -2 \bar d (g_{B_2} - g_{A_2}),

    filtered back with the adjoint filter as for SSIM. Checked with gradcheck in float64.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float,
                c2: float, shift: float, luminance: bool) -> torch.Tensor:
        ctx.constants = (c1, c2, shift, luminance)
        ctx.save_for_backward(x, y, kernel)
        return _scale_in_strips(x, y, kernel, c1, c2, shift, luminance)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, y, kernel = ctx.saved_tensors
        c1, c2, shift, luminance = ctx.constants
        grad_x, grad_y = _scale_backward(x, y, kernel, grad, c1, c2, shift, luminance,
                                         ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return grad_x, grad_y, None, None, None, None, None


def _scale_backward(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor,
                    c1: float, c2: float, shift: float, luminance: bool, need_x: bool,
                    need_y: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of ``sum(grad * per-channel mean)`` with respect to ``x`` and ``y`` (``None``
    where not needed), strip by strip (see :class:`_ScaleFunction`)."""
    k = kernel.numel()
    height, width = x.shape[2:]
    weight = (grad / ((height - k + 1) * (width - k + 1)))[:, :, None, None]
    grad_x = torch.zeros_like(x) if need_x else None
    grad_y = torch.zeros_like(y) if need_y else None
    for top, bottom in row_strips(x, k):
        xs, ys = x[:, :, top:bottom], y[:, :, top:bottom]
        if luminance:
            terms = ssim_terms(xs, ys, kernel, c1, c2, shift)
            grad_a, grad_d = ssim_map_backward(xs, ys, kernel, shift, weight, terms)
        else:
            grad_a, grad_d = _cs_map_backward(xs, ys, kernel, c2, shift, weight)
        if grad_x is not None:
            grad_x[:, :, top:bottom] += grad_a + grad_d
        if grad_y is not None:
            grad_y[:, :, top:bottom] += grad_a - grad_d
    return grad_x, grad_y


def _cs_map_backward(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c2: float,
                     shift: float, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``sum(weight * A2 / B2)`` over one strip with respect to
    ``a = x + y - 2 shift`` and ``d = x - y`` (see :class:`_ScaleFunction`)."""
    fa, fd, a2, b2 = cs_terms(x, y, kernel, c2, shift)
    c = x.shape[1]
    g_a2 = b2.reciprocal().mul_(weight)          # w / B2
    g_b2 = a2.mul_(g_a2).div_(b2).neg_()         # -w A2 / B2^2
    g = torch.empty(fa.shape[0], 4 * c, *fa.shape[2:], dtype=fa.dtype, device=fa.device)
    g_sq_a = torch.add(g_a2, g_b2, out=g[:, 2 * c:3 * c])
    g_sq_d = torch.sub(g_b2, g_a2, out=g[:, 3 * c:])
    torch.mul(fa, g_sq_a, out=g[:, :c]).mul_(-2)
    torch.mul(fd, g_sq_d, out=g[:, c:2 * c]).mul_(-2)
    f_a, f_d, f_sq_a, f_sq_d = torch.split(filter_adjoint(g, kernel), c, dim=1)
    a = (x + y).sub_(2 * shift)
    d = x - y
    return f_a.addcmul(a, f_sq_a, value=2), f_d.addcmul(d, f_sq_d, value=2)


def _scale_in_strips(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float,
                     c2: float, shift: float, luminance: bool) -> torch.Tensor:
    """Per-channel mean :math:`(B, C)` of the contrast-structure or SSIM map, in row strips
    (see :func:`rainkit.metrics._kernels.ssim_in_strips`)."""
    k = kernel.numel()
    height, width = x.shape[2:]
    total = x.new_zeros(x.shape[:2])
    for top, bottom in row_strips(x, k):
        xs, ys = x[:, :, top:bottom], y[:, :, top:bottom]
        if luminance:
            _, _, _, a1, a2, b1, b2 = ssim_terms(xs, ys, kernel, c1, c2, shift)
            total += a1.div_(b1).mul_(a2.div_(b2)).sum(dim=(2, 3))
        else:
            _, _, a2, b2 = cs_terms(xs, ys, kernel, c2, shift)
            total += a2.div_(b2).sum(dim=(2, 3))
    return total / ((height - k + 1) * (width - k + 1))


# Opaque operators for torch.compile, as rainkit::ssim (see rainkit/metrics/ssim.py).
@torch.library.custom_op("rainkit::ms_ssim_scale", mutates_args=())
def _scale_op(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
              shift: float, luminance: bool) -> torch.Tensor:
    return _scale_in_strips(x, y, kernel, c1, c2, shift, luminance)


@_scale_op.register_fake
def _(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float, shift: float,
      luminance: bool) -> torch.Tensor:
    return x.new_empty(x.shape[:2])


@torch.library.custom_op("rainkit::ms_ssim_scale_backward", mutates_args=())
def _scale_backward_op(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor,
                       grad: torch.Tensor, c1: float, c2: float, shift: float, luminance: bool,
                       need_x: bool, need_y: bool) -> tuple[torch.Tensor, torch.Tensor]:
    grad_x, grad_y = _scale_backward(x, y, kernel, grad, c1, c2, shift, luminance, need_x,
                                     need_y)
    return (x.new_empty(0) if grad_x is None else grad_x,
            y.new_empty(0) if grad_y is None else grad_y)


@_scale_backward_op.register_fake
def _(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor, c1: float,
      c2: float, shift: float, luminance: bool, need_x: bool,
      need_y: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.empty_like(x) if need_x else x.new_empty(0),
            torch.empty_like(y) if need_y else y.new_empty(0))


def _scale_op_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    x, y, kernel, c1, c2, shift, luminance = inputs
    ctx.save_for_backward(x, y, kernel)
    ctx.constants = (c1, c2, shift, luminance)


def _scale_op_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    x, y, kernel = ctx.saved_tensors
    need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    grad_x, grad_y = _scale_backward_op(x, y, kernel, grad, *ctx.constants, need_x, need_y)
    return (grad_x if need_x else None), (grad_y if need_y else None), *(None,) * 5


_scale_op.register_autograd(_scale_op_backward, setup_context=_scale_op_setup)


def _scale_value(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
                 shift: float, luminance: bool) -> torch.Tensor:
    values: torch.Tensor  # the operator and apply() are typed as returning Any
    if torch.compiler.is_compiling():
        values = _scale_op(x, y, kernel, c1, c2, shift, luminance)
    else:
        values = _ScaleFunction.apply(x, y, kernel, c1, c2, shift, luminance)
    return values


def _ms_ssim_per_image(x: torch.Tensor, y: torch.Tensor, data_range: float, window_size: int,
                       sigma: float, k1: float, k2: float, weights: tuple[float, ...],
                       normalize: str) -> torch.Tensor:
    kernel = gaussian_window(window_size, sigma, x.dtype, x.device)
    c1, c2 = ssim_constants(data_range, k1, k2, x.dtype)
    values = []
    for scale in range(len(weights)):
        if scale:
            x, y = _downsample(x), _downsample(y)
        last = scale == len(weights) - 1
        values.append(_scale_value(x, y, kernel, c1, c2, data_range / 2, last))
    stacked = torch.stack(values)  # (scales, B, C)
    exponents = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device)[:, None, None]
    if normalize == "simple":
        factors = ((stacked + 1) / 2) ** exponents
    else:
        # relu(v) ** w, with a zero gradient where v <= 0 (relu(v) ** w itself gives
        # 0 * inf = NaN there, since w < 1).
        positive = stacked > 0
        factors = torch.where(positive, torch.where(positive, stacked, 1.0) ** exponents, 0.0)
    return factors.prod(dim=0).mean(dim=1)


def _scales_for(height: int, width: int, window_size: int, weights: tuple[float, ...],
                fewer_scales: bool, crop_border: int) -> tuple[float, ...]:
    side = min(height, width)
    needed = min_size(window_size, len(weights))
    if side >= needed:
        return weights
    if fewer_scales and side >= window_size:
        scales = max(n for n in range(1, len(weights) + 1) if side >= min_size(window_size, n))
        kept = weights[:scales]
        total = sum(kept)
        if total == 0:
            raise ValueError(
                f"fewer_scales=True kept the first {scales} weights for a {height}x{width} "
                f"image, and they are all 0"
            )
        return tuple(w * sum(weights) / total for w in kept)
    after = " after crop_border" if crop_border else ""
    hint = ("" if fewer_scales else
            "; pass fewer_scales=True to score it with the scales that fit, or fewer weights")
    raise ValueError(
        f"input and target must be at least {needed} pixels on each side{after} for MS-SSIM "
        f"with {len(weights)} scales and window_size={window_size} ((window_size - 1) * "
        f"2**{len(weights) - 1} + 1), got {height}x{width}{hint}"
    )


@overload
def ms_ssim(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    scale_weights: Sequence[float] | None = None,
    normalize: Normalize = "relu",
    fewer_scales: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor: ...


@overload
def ms_ssim(
    input: np.ndarray,
    target: np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    scale_weights: Sequence[float] | None = None,
    normalize: Normalize = "relu",
    fewer_scales: bool = False,
    reduction: Reduction = "mean",
) -> float | np.ndarray: ...


@renamed_scale_weights
def ms_ssim(
    input: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    scale_weights: Sequence[float] | None = None,
    normalize: Normalize = "relu",
    fewer_scales: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""Multi-scale structural similarity index, one value per image.

    The image pair is scored at :math:`M` scales (5 by default), each obtained from the one
    before by 2x2 average pooling. With the SSIM factors of :func:`rainkit.metrics.ssim`
    (Gaussian window, valid region, population moments),

    .. math::

        l = \frac{2 \mu_x \mu_y + C_1}{\mu_x^2 + \mu_y^2 + C_1}, \qquad
        cs = \frac{2 \sigma_{xy} + C_2}{\sigma_x^2 + \sigma_y^2 + C_2},

    and per channel

    .. math::

        \text{MS-SSIM}(x, y) = \overline{l\,cs}_M^{\;\beta_M}
        \prod_{j=1}^{M-1} \overline{cs}_j^{\;\beta_j},

    bars for the mean over the scale's valid map: contrast-structure at the finer scales,
    contrast-structure times luminance (the SSIM map) at the coarsest, as in the authors'
    MATLAB code and pytorch-msssim. The score of an image is the mean over its channels.
    The weights :math:`\beta` are ``scale_weights`` (default :data:`MS_SSIM_WEIGHTS`, 0.0448,
    0.2856, 0.3001, 0.2363, 0.1333, finest first). Identical images give exactly ``1``.

    **Negative values.** A mean :math:`\overline{cs}_j` (or the last SSIM) can be negative
    for anti-correlated images, and a negative number has no real fractional power.
    ``normalize="relu"`` (default, as pytorch-msssim, piq and torchmetrics' default) replaces
    negative values by 0, so the score is 0; the gradient there is 0 (not NaN as with
    ``relu(v) ** w`` in pytorch-msssim). ``normalize="simple"`` maps every value through
    :math:`(v + 1) / 2` first (torchmetrics' ``normalize="simple"``), which keeps a gradient
    for training but is not the published index.

    **Pooling.** 2x2 mean; an odd last row or column is kept (averaged with its own mirror),
    as the authors' MATLAB code (``imfilter`` with ``'symmetric'`` boundaries, then every
    second pixel). The side of scale :math:`j` is :math:`\lceil H / 2^{j-1} \rceil`. For sides
    divisible by :math:`2^{M-1}` every implementation pools alike; for odd sides
    pytorch-msssim pads a zero row first (counted in the mean, darkening it), piq replicates
    the first row and torchmetrics drops the last one.

    **Small images.** The coarsest scale must hold one window, so images need at least
    :math:`(\text{window\_size} - 1)\,2^{M-1} + 1` pixels on each side (161 with the defaults;
    the same bound as pytorch-msssim and piq; torchmetrics asks for more). Smaller images
    raise :class:`ValueError` naming that size, unless ``fewer_scales=True``: then they are
    scored with the largest number :math:`n` of scales that fit (at least one, i.e. images at
    least ``window_size`` pixels), using the first :math:`n` weights rescaled to the sum of all
    of them (with one scale the score is SSIM raised to that sum, 1.0001 with the defaults).

    Like :func:`rainkit.metrics.ssim`, each scale runs in row strips with an analytic backward,
    also inside :func:`torch.compile` graphs (``fullgraph=True`` too), as an opaque operator
    (``rainkit::ms_ssim_scale``).

    **Peers**, all with the same Gaussian window (11, sigma 1.5) and constants (measured in
    ``benchmarks/README.md``): pytorch-msssim's ``ms_ssim`` computes the same index (valid
    region, per channel, relu) and agrees to 2e-6 on photos, in float64 too (it builds its window
    in float32), when the sides are divisible by 16; it pools odd sides differently (above). piq's
    ``multi_scale_ssim`` agrees to 1e-14 whenever piq's replicated *first* row and rainkit's
    replicated *last* row give the same pooling (sides divisible by 16), and divides custom
    weights by their sum. torchmetrics' ``multiscale_structural_similarity_index_measure``
    reflect-pads every scale (values about 1e-4 apart), averages over all channels before the
    product instead of per channel, drops an odd last row, needs larger images, and takes
    ``data_range`` from the images' values when not given. kornia has no dyadic MS-SSIM: its
    ``MS_SSIMLoss`` is the loss of Zhao et al. (2017), five Gaussians (sigma 0.5 to 8) at full
    resolution with zero padding, per pixel, mixed with L1: a different quantity.

    Args:
        input: the restored image(s): a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)`
            (any floating dtype and device, differentiable), or a numpy array :math:`(H, W)`
            or :math:`(H, W, C)` of dtype uint8, uint16 or float.
        target: the reference image(s), same type, shape and dtype as ``input``.
        data_range: the dynamic range :math:`L` (see :func:`rainkit.metrics.ssim`); ``None``
            takes it from the dtype (1 for floating inputs, 255 for uint8, 65535 for uint16).
        crop_border: pixels dropped on each side before scoring (0 when unset).
        y_channel: score the luma ``Y`` of BT.601 limited-range YCbCr (needs 3 channels;
            ``False`` when unset).
        convention: a name in :data:`rainkit.metrics.CONVENTIONS` (or a
            :class:`~rainkit.metrics.ScoringConvention`): score the way a published evaluation
            script does (Y rounded or not, crop); options that contradict it raise
            :class:`ValueError`. See :func:`rainkit.metrics.ssim`.
        quantize: ``"round"`` or ``"floor"``: snap a floating ``input`` to the 256 levels of
            its data range first, as a pipeline that saved 8-bit files did.
        window_size: odd side of the Gaussian window (11 in the paper).
        sigma: standard deviation of the Gaussian window (1.5).
        k1: stabilising constant of the luminance term, :math:`C_1 = (k_1 L)^2`.
        k2: stabilising constant of the contrast-structure term, :math:`C_2 = (k_2 L)^2`.
            ``data_range``, ``k1`` and ``k2`` must keep the constants within the dtype the
            images are computed in, as for :func:`rainkit.metrics.ssim` (else
            :class:`ValueError`).
        scale_weights: one exponent per scale, finest first, each ``>= 0``; ``None`` means
            :data:`MS_SSIM_WEIGHTS`. Used as given (not renormalised), like pytorch-msssim
            (piq divides custom weights by their sum). Called ``weights`` before rainkit 0.3:
            the old keyword still works, with a :class:`FutureWarning`.
        normalize: ``"relu"`` or ``"simple"``, how negative per-scale values are handled (see
            above).
        fewer_scales: score images too small for all the scales with fewer (see above)
            instead of raising.
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor inputs (shape :math:`(B,)` for ``"none"``, else a scalar), in the
        input's dtype (float32 for float16/bfloat16 inputs); a Python float for numpy inputs
        (computed in float64; a numpy array of shape :math:`(1,)` for ``"none"``). Values lie
        in :math:`[0, 1]` with ``"relu"`` and ``"simple"``.

    Shape:
        - input: :math:`(B, C, H, W)`, :math:`(C, H, W)`, or numpy :math:`(H, W)`,
          :math:`(H, W, C)`; :math:`H, W \geq (\text{window\_size} - 1)\,2^{M-1} + 1` after
          cropping (see above).
        - target: same as ``input``.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(2, 3, 176, 176, generator=g)
        >>> ms_ssim(x, x).item()
        1.0
        >>> y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
        >>> ms_ssim(y, x, reduction="none").shape
        torch.Size([2])
        >>> ms_ssim(x[..., :64, :64], x[..., :64, :64], fewer_scales=True).item()
        1.0

    References:
        Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multiscale structural similarity for image
        quality assessment", Asilomar Conference on Signals, Systems and Computers, 2003.
    """
    check_window_options(window_size, sigma, k1, k2)
    _check_convention_window(convention, window_size, sigma, k1, k2)
    weights = check_ms_options(scale_weights, normalize, fewer_scales)
    p = prepare(input, target, data_range=data_range, crop_border=crop_border,
                y_channel=y_channel, reduction=reduction, convention=convention,
                quantize=quantize)
    height, width = p.input.shape[-2:]
    weights = _scales_for(height, width, window_size, weights, fewer_scales, crop_border or 0)
    values = _ms_ssim_per_image(p.input, p.target, p.data_range, window_size, float(sigma),
                                float(k1), float(k2), weights, normalize)
    return finish(values, reduction, p.numpy)


def _check_convention_window(convention: object, window_size: int, sigma: float, k1: float,
                             k2: float) -> None:
    """MS-SSIM takes a convention's preparation (luma, rounding, crop) and its Gaussian window;
    its own dyadic scales replace ``"prenet-y"``'s automatic downsampling. A convention with
    another window has no MS-SSIM form."""
    if convention is None:
        return
    conv = resolve_convention(convention)
    if conv.ssim_window != "gaussian" or conv.sample_covariance or conv.ssim_range_factor != 1:
        raise ValueError(
            f"convention {conv.name!r} uses an SSIM of its own ({conv.window_size}x"
            f"{conv.window_size} {conv.ssim_window} window), which has no MS-SSIM form; use "
            f"y_channel= and crop_border= instead"
        )
    check_window_conflicts(conv, window_size=window_size, sigma=sigma, k1=k1, k2=k2)


class MS_SSIM(nn.Module):
    """Multi-scale structural similarity as a module; see :func:`ms_ssim` for the arguments.

    Options are checked when the module is built.

    Example:
        >>> import torch
        >>> metric = MS_SSIM(reduction="none")
        >>> x = torch.rand(2, 3, 161, 161)
        >>> metric(x, x)
        tensor([1., 1.])
    """

    @renamed_scale_weights
    def __init__(self, *, data_range: float | None = None, crop_border: int | None = None,
                 y_channel: bool | None = None,
                 convention: str | ScoringConvention | None = None,
                 quantize: Quantize | None = None, window_size: int = 11, sigma: float = 1.5,
                 k1: float = 0.01, k2: float = 0.03,
                 scale_weights: Sequence[float] | None = None, normalize: Normalize = "relu",
                 fewer_scales: bool = False, reduction: Reduction = "mean") -> None:
        super().__init__()
        options = check_options(data_range, crop_border, y_channel, reduction,
                                convention=convention, quantize=quantize)
        self.convention = convention
        self.quantize = quantize
        check_window_options(window_size, sigma, k1, k2)
        # constants beyond float64 fail now; those beyond float32 when float32 images come
        ssim_constants(1.0 if options.data_range is None else options.data_range, float(k1),
                       float(k2), torch.float64)
        _check_convention_window(convention, window_size, sigma, k1, k2)
        self.scale_weights = check_ms_options(scale_weights, normalize, fewer_scales)
        self.data_range = data_range
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.window_size = window_size
        self.sigma = sigma
        self.k1 = k1
        self.k2 = k2
        self.normalize: Normalize = normalize
        self.fewer_scales = fewer_scales
        self.reduction: Reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ms_ssim(
            input, target, data_range=self.data_range, crop_border=self.crop_border,
            y_channel=self.y_channel, convention=self.convention, quantize=self.quantize,
            window_size=self.window_size, sigma=self.sigma,
            k1=self.k1, k2=self.k2, scale_weights=self.scale_weights,
            normalize=self.normalize, fewer_scales=self.fewer_scales, reduction=self.reduction)

    @property
    def weights(self) -> tuple[float, ...]:
        """The scale weights under their old name (read-only; use :attr:`scale_weights`)."""
        return self.scale_weights

    def extra_repr(self) -> str:
        return (f"data_range={self.data_range}, crop_border={self.crop_border}, "
                f"y_channel={self.y_channel}, window_size={self.window_size}, "
                f"sigma={self.sigma}, k1={self.k1}, k2={self.k2}, "
                f"scale_weights={self.scale_weights}, "
                f"normalize={self.normalize!r}, fewer_scales={self.fewer_scales}, "
                f"reduction={self.reduction!r}")

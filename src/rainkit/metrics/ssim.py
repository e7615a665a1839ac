"""Structural similarity (SSIM): Wang et al.'s index, filtered separably, in every script's form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from rainkit._checks import Reduction, check_int, check_positive
from rainkit.metrics._kernels import (
    auto_downsample,
    gaussian_window,
    row_strips,
    ssim_constants,
    ssim_in_strips,
    ssim_map_backward,
    ssim_terms,
    uniform_window,
)
from rainkit.metrics._prepare import check_options, check_window_conflicts, finish, prepare
from rainkit.metrics.conventions import (
    Quantize,
    ScoringConvention,
    SSIMWindow,
    auto_downsample_factor,
    resolve_convention,
)
from rainkit.metrics.registry import PreparedPair, register_metric

__all__ = ["SSIM", "SSIMSettings", "ssim", "ssim_settings"]


def check_window_options(window_size: object, sigma: object, k1: object, k2: object) -> None:
    """Validate SSIM's window and constants (shared with :class:`rainkit.loss.SSIMLoss`)."""
    size = check_int(window_size, "window_size", minimum=1)
    if size % 2 == 0:
        raise ValueError(f"window_size must be an odd int >= 1, got {size}")
    check_positive(sigma, "sigma")
    check_positive(k1, "k1")
    check_positive(k2, "k2")



@dataclass(frozen=True)
class SSIMSettings:
    """Everything SSIM does after the images are prepared (see :class:`ScoringConvention`)."""

    window: SSIMWindow = "gaussian"
    window_size: int = 11
    sigma: float = 1.5
    k1: float = 0.01
    k2: float = 0.03
    sample_covariance: bool = False
    range_factor: float = 1.0
    downsample: bool = False

    @classmethod
    def of(cls, convention: ScoringConvention) -> SSIMSettings:
        """The SSIM settings of a convention."""
        return cls(convention.ssim_window, convention.window_size, convention.sigma,
                   convention.k1, convention.k2, convention.sample_covariance,
                   convention.ssim_range_factor, convention.ssim_downsample)


def ssim_settings(convention: str | ScoringConvention | None = None, *,
                  window_size: int | None = None, sigma: float | None = None,
                  k1: float | None = None, k2: float | None = None) -> SSIMSettings:
    """Resolve SSIM's settings from a convention and explicit options (``None``: not given).

    Without a convention, explicit options override Wang et al.'s defaults (11x11 Gaussian,
    sigma 1.5, k1 0.01, k2 0.03). With one, the convention fixes them all and an explicit value
    that differs raises :class:`ValueError`.
    """
    given = {"window_size": window_size, "sigma": sigma, "k1": k1, "k2": k2}
    defaults = SSIMSettings()
    resolved = {k: (getattr(defaults, k) if v is None else v) for k, v in given.items()}
    check_window_options(**resolved)
    if convention is None:
        return SSIMSettings(window_size=int(resolved["window_size"]),
                            sigma=float(resolved["sigma"]), k1=float(resolved["k1"]),
                            k2=float(resolved["k2"]))
    conv = resolve_convention(convention)
    check_window_conflicts(conv, **given)
    return SSIMSettings.of(conv)


class _SSIMFunction(torch.autograd.Function):
    r"""Per-image mean SSIM with an analytic backward.

    In the terms of :func:`ssim_terms` (:math:`S = A_1 A_2 / (B_1 B_2)`), with
    :math:`g_{A_1} = A_2 / (B_1 B_2)`, :math:`g_{A_2} = A_1 / (B_1 B_2)`,
    :math:`g_{B_1} = -S / B_1` and :math:`g_{B_2} = -S / B_2`:

    .. math::

        \frac{\partial S}{\partial \overline{a^2}} = g_{A_2} + g_{B_2}, \quad
        \frac{\partial S}{\partial \overline{d^2}} = g_{B_2} - g_{A_2}, \quad
        \frac{\partial S}{\partial \bar a} = 2\bar U (g_{A_1} + g_{B_1})
        - 2\bar a \frac{\partial S}{\partial \overline{a^2}}, \quad
        \frac{\partial S}{\partial \bar d} = 2\bar d (g_{B_1} - g_{A_1} + g_{A_2} - g_{B_2})

    and :math:`\partial L / \partial a = F^T g_{\bar a} + 2 a F^T g_{\overline{a^2}}`
    (likewise for :math:`d`), :math:`\partial L / \partial x = \partial L / \partial a +
    \partial L / \partial d`, :math:`\partial L / \partial y = \partial L / \partial a -
    \partial L / \partial d`, with :math:`F^T` the adjoint ('full') filter. Checked with
    gradcheck in float64.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float,
                c2: float, shift: float) -> torch.Tensor:
        # Only the inputs are saved: the backward recomputes each strip's map, which costs one
        # more forward (cheap, see benchmarks/README.md) and keeps memory at one strip's worth.
        ctx.constants = (c1, c2, shift)
        ctx.save_for_backward(x, y, kernel)
        return ssim_in_strips(x, y, kernel, c1, c2, shift)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, y, kernel = ctx.saved_tensors
        c1, c2, shift = ctx.constants
        grad_x, grad_y = _ssim_backward(x, y, kernel, grad, c1, c2, shift,
                                        ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return grad_x, grad_y, None, None, None, None


def _ssim_backward(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor,
                   c1: float, c2: float, shift: float, need_x: bool,
                   need_y: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of ``sum(grad * per-image SSIM)`` with respect to ``x`` and ``y`` (``None``
    where not needed), strip by strip (see :class:`rainkit.metrics.ssim._SSIMFunction`)."""
    k = kernel.numel()
    channels, height, width = x.shape[1:]
    count = channels * (height - k + 1) * (width - k + 1)
    weight = (grad / count).view(-1, 1, 1, 1)
    grad_x = torch.zeros_like(x) if need_x else None
    grad_y = torch.zeros_like(y) if need_y else None
    for top, bottom in row_strips(x, k):
        # Output rows [top, bottom - k + 1) depend on input rows [top, bottom); the adjoint
        # filter spreads each strip's gradient over exactly those rows, and strips add up.
        xs, ys = x[:, :, top:bottom], y[:, :, top:bottom]
        terms = ssim_terms(xs, ys, kernel, c1, c2, shift)
        grad_a, grad_d = ssim_map_backward(xs, ys, kernel, shift, weight, terms)
        if grad_x is not None:
            grad_x[:, :, top:bottom] += grad_a + grad_d
        if grad_y is not None:
            grad_y[:, :, top:bottom] += grad_a - grad_d
    return grad_x, grad_y


# The same strip computations as opaque operators, for torch.compile: dynamo cannot trace the
# ``out=`` views of one buffer that the strips write (it failed with "IndexError: Dimension out
# of range"), and a traceable rewrite (plain out-of-place ops, autograd's backward, inductor's
# fusion) ran 1.1-2x slower than these (see benchmarks/README.md). As operators they keep their
# speed and values inside compiled graphs, fullgraph=True included.
@torch.library.custom_op("rainkit::ssim", mutates_args=())
def _ssim_op(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
             shift: float) -> torch.Tensor:
    return ssim_in_strips(x, y, kernel, c1, c2, shift)


@_ssim_op.register_fake
def _(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
      shift: float) -> torch.Tensor:
    return x.new_empty(x.shape[0])


@torch.library.custom_op("rainkit::ssim_backward", mutates_args=())
def _ssim_backward_op(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor,
                      c1: float, c2: float, shift: float, need_x: bool,
                      need_y: bool) -> tuple[torch.Tensor, torch.Tensor]:
    grad_x, grad_y = _ssim_backward(x, y, kernel, grad, c1, c2, shift, need_x, need_y)
    return (x.new_empty(0) if grad_x is None else grad_x,
            y.new_empty(0) if grad_y is None else grad_y)


@_ssim_backward_op.register_fake
def _(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor, c1: float,
      c2: float, shift: float, need_x: bool, need_y: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.empty_like(x) if need_x else x.new_empty(0),
            torch.empty_like(y) if need_y else y.new_empty(0))


def _ssim_op_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    x, y, kernel, c1, c2, shift = inputs
    ctx.save_for_backward(x, y, kernel)
    ctx.constants = (c1, c2, shift)


def _ssim_op_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    x, y, kernel = ctx.saved_tensors
    need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    grad_x, grad_y = _ssim_backward_op(x, y, kernel, grad, *ctx.constants, need_x, need_y)
    return (grad_x if need_x else None), (grad_y if need_y else None), None, None, None, None


_ssim_op.register_autograd(_ssim_op_backward, setup_context=_ssim_op_setup)


def _ssim_per_image(x: torch.Tensor, y: torch.Tensor, data_range: float,
                    settings: SSIMSettings) -> torch.Tensor:
    """Per-image SSIM of prepared ``(B, C, H, W)`` images under ``settings``."""
    if settings.downsample:
        factor = auto_downsample_factor(*x.shape[-2:])
        x, y = auto_downsample(x, factor), auto_downsample(y, factor)
    size = settings.window_size
    if settings.window == "uniform":
        kernel = uniform_window(size, x.dtype, x.device)
    else:
        kernel = gaussian_window(size, settings.sigma, x.dtype, x.device)
    c1, c2 = ssim_constants(data_range, settings.k1, settings.k2, x.dtype,
                            range_factor=settings.range_factor)
    if settings.sample_covariance:
        # sample moments multiply every variance and the covariance by N / (N - 1); in the
        # contrast-structure factor that is the same as dividing C2 by it
        count = size * size
        c2 = c2 * (count - 1) / count
    shift = data_range / 2
    values: torch.Tensor  # the operator and apply() are typed as returning Any
    if torch.compiler.is_compiling():
        values = _ssim_op(x, y, kernel, c1, c2, shift)
    else:
        # Without inputs that need gradients, apply() records nothing and costs only the call.
        values = _SSIMFunction.apply(x, y, kernel, c1, c2, shift)
    return values


@register_metric("ssim", label="SSIM", decimals=4)
def ssim_of_pair(pair: PreparedPair) -> torch.Tensor:
    """SSIM of a :class:`~rainkit.metrics.PreparedPair` under its convention, per image
    :math:`(B,)` (the :class:`~rainkit.metrics.ScoreTable` entry)."""
    settings = SSIMSettings.of(pair.convention)
    check_ssim_size(pair.input, settings, crop_border=bool(pair.convention.crop_border))
    return _ssim_per_image(pair.input, pair.target, pair.data_range, settings)


@overload
def ssim(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int | None = None,
    sigma: float | None = None,
    k1: float | None = None,
    k2: float | None = None,
    reduction: Reduction = "mean",
) -> torch.Tensor: ...


@overload
def ssim(
    input: np.ndarray,
    target: np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int | None = None,
    sigma: float | None = None,
    k1: float | None = None,
    k2: float | None = None,
    reduction: Reduction = "mean",
) -> float | np.ndarray: ...


def ssim(
    input: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    window_size: int | None = None,
    sigma: float | None = None,
    k1: float | None = None,
    k2: float | None = None,
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""Structural similarity index, one value per image, as Wang et al. or a named script.

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

    A ``convention`` fixes the whole computation of its script (see
    :class:`ScoringConvention`): what is scored (luma, 8-bit rounding, crop), and SSIM's own
    settings: the window (``"spanet-rgb"``: scikit-image 0.14's 7x7 uniform window with sample
    covariance and :math:`L = 2`), and for ``"prenet-y"`` Wang's 2009 automatic downsampling,
    an :math:`f \times f` mean then every :math:`f`-th pixel with
    :math:`f = \max(1, \mathrm{round}(\min(H, W) / 256))`, so images of 384 pixels or more
    on the short side are scored at a coarser scale, as PReNet's scripts did.

    The Gaussian filter runs as two 1-D passes over four maps of all channels at once:
    :math:`x + y`, :math:`x - y` and their squares carry all SSIM needs (the means enter only
    as :math:`\mu_x \mu_y` and :math:`\mu_x^2 + \mu_y^2`, the variances only as
    :math:`\sigma_x^2 + \sigma_y^2`).

    It works under :func:`torch.compile` (``fullgraph=True`` too): compiled graphs call the
    same strip computations and analytic backward as opaque operators (``rainkit::ssim``),
    with the same values and speed.

    Args:
        input: the restored image(s): a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)`
            (any floating dtype and device, differentiable), or a numpy array :math:`(H, W)`
            or :math:`(H, W, C)` of dtype uint8, uint16 or float.
        target: the reference image(s), same type, shape and dtype as ``input``.
        data_range: the dynamic range :math:`L`. ``None`` (default) takes it from the dtype:
            ``1.0`` for floating inputs (images in :math:`[0, 1]`), ``255`` for uint8 and
            ``65535`` for uint16 arrays. It is never guessed from the values; an explicit
            value always wins.
        crop_border: pixels dropped on each side before scoring. ``None`` (default): the
            convention's border, else 0.
        y_channel: score the luma ``Y`` of BT.601 limited-range YCbCr (see
            :func:`rgb_to_y`); needs 3 channels. ``None`` (default): what the convention
            says, else ``False``.
        convention: a published evaluation script's convention (a key of
            :data:`CONVENTIONS` or a :class:`ScoringConvention`); see :func:`psnr`. It fixes
            the window options below (and the downsampling and covariance form): leave them
            unset (``None``), or give the convention's values; others raise
            :class:`ValueError`.
        quantize: ``"round"`` or ``"floor"``: snap ``input`` to 8 bits first, as a test script
            saving the output did; see :func:`psnr`. ``None`` (default): as given.
        window_size: odd side of the Gaussian window (``None``: the convention's, else 11 as
            in the paper).
        sigma: standard deviation of the Gaussian window (``None``: 1.5, the paper's).
        k1: stabilising constant for the luminance term (``None``: 0.01).
        k2: stabilising constant for the contrast-structure term (``None``: 0.03).
            ``data_range``, ``k1`` and ``k2`` must fit the dtype the images are computed in:
            :math:`C_1` and :math:`C_2`, computed in float64, at least its smallest normal
            number, and :math:`(5L^2 + 2C_1)(2L^2 + 2C_2)`, the largest product of SSIM's
            terms (formed by the gradient), at most its largest value; with the default
            constants :math:`L` up to about 2.4e9 in float32 and 6.5e76 in float64. Others
            raise :class:`ValueError` naming all three (they would give NaN without a word);
            a module checks them against float64 when built, against the images' dtype
            when called.
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor inputs (shape :math:`(B,)` for ``"none"``, else a scalar), in the
        input's dtype (float32 for float16/bfloat16 inputs); a Python float for numpy inputs
        (computed in float64; a numpy array of shape :math:`(1,)` for ``"none"``). Values lie
        in :math:`[-1, 1]`.

    Shape:
        - input: :math:`(B, C, H, W)`, :math:`(C, H, W)`, or numpy :math:`(H, W)`,
          :math:`(H, W, C)`; :math:`H, W \geq` ``window_size`` after cropping.
        - target: same shape as ``input``; float32 and float64 may be mixed (the result is
          computed in float64), as may float32 and float64 arrays.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x).item()
        1.0
        >>> ssim(x, x.flip(-1), reduction="none").shape
        torch.Size([2])
        >>> y = (x + 0.05).clamp(0, 1)
        >>> big = torch.nn.functional.interpolate(x, size=(384, 400))  # short side 384: f = 2
        >>> big_y = torch.nn.functional.interpolate(y, size=(384, 400))
        >>> a = ssim(big_y, big, convention="prenet-y").item()
        >>> b = ssim(big_y[..., ::2, ::2], big[..., ::2, ::2], y_channel=True).item()
        >>> a != b  # the 2x2 mean is not plain subsampling
        True

    References:
        Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment:
        from error visibility to structural similarity", IEEE Transactions on Image Processing
        13(4), 2004.
    """
    settings = ssim_settings(convention, window_size=window_size, sigma=sigma, k1=k1, k2=k2)
    p = prepare(input, target, data_range=data_range, crop_border=crop_border,
                y_channel=y_channel, reduction=reduction, convention=convention,
                quantize=quantize)
    check_ssim_size(p.input, settings, crop_border=bool(crop_border))
    values = _ssim_per_image(p.input, p.target, p.data_range, settings)
    return finish(values, reduction, p.numpy)


def check_ssim_size(x: torch.Tensor, settings: SSIMSettings, *, crop_border: bool) -> None:
    """Raise :class:`ValueError` unless prepared images hold one SSIM window."""
    height, width = x.shape[-2:]
    size = settings.window_size
    if min(height, width) < size:
        raise ValueError(
            f"images must be at least window_size={size} pixels on each side"
            f"{' after crop_border' if crop_border else ''}, got {height}x{width}"
        )


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

    def __init__(self, *, data_range: float | None = None, crop_border: int | None = None,
                 y_channel: bool | None = None,
                 convention: str | ScoringConvention | None = None,
                 quantize: Quantize | None = None, window_size: int | None = None,
                 sigma: float | None = None, k1: float | None = None, k2: float | None = None,
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        settings = ssim_settings(convention, window_size=window_size, sigma=sigma, k1=k1, k2=k2)
        options = check_options(data_range, crop_border, y_channel, reduction,
                                convention=convention, quantize=quantize)
        # constants beyond float64 fail now; those beyond float32 when float32 images come
        ssim_constants(1.0 if options.data_range is None else options.data_range, settings.k1,
                       settings.k2, torch.float64, range_factor=settings.range_factor)
        self.data_range = data_range
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.convention = convention
        self.quantize = quantize
        self.window_size = window_size
        self.sigma = sigma
        self.k1 = k1
        self.k2 = k2
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim(input, target, data_range=self.data_range, crop_border=self.crop_border,
                    y_channel=self.y_channel, convention=self.convention,
                    quantize=self.quantize, window_size=self.window_size, sigma=self.sigma,
                    k1=self.k1, k2=self.k2, reduction=self.reduction)

    def extra_repr(self) -> str:
        name = getattr(self.convention, "name", self.convention)
        return (f"data_range={self.data_range}, crop_border={self.crop_border}, "
                f"y_channel={self.y_channel}, convention={name!r}, quantize={self.quantize!r}, "
                f"window_size={self.window_size}, "
                f"sigma={self.sigma}, k1={self.k1}, k2={self.k2}, reduction={self.reduction!r}")

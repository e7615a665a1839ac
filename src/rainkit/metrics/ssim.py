"""Structural similarity (SSIM) with a Gaussian window, filtered separably."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from rainkit._validation import Reduction, check_int, check_positive
from rainkit.metrics._prepare import check_options, finish, prepare
from rainkit.metrics.conventions import Quantize, ScoringConvention

__all__ = ["SSIM", "ssim"]


def check_window_options(window_size: object, sigma: object, k1: object, k2: object) -> None:
    """Validate SSIM's window and constants (shared with :class:`rainkit.loss.SSIMLoss`)."""
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
    """Separable 'valid' Gaussian filtering of ``(B, N, H, W)`` maps in one grouped call per pass.

    Depthwise (grouped) convolution on channels_last maps was the fastest of the variants tried
    on CPU (see ``benchmarks/README.md``): a single-channel convolution over
    ``(B * N, 1, H, W)``, 1-D convolutions over reshaped rows and columns, a sum of shifted
    slices, a dense 2-D window and the default (NCHW) layout were slower.
    """
    n, k = maps.shape[1], kernel.numel()
    out = F.conv2d(maps, kernel.view(1, 1, 1, k).expand(n, 1, 1, k), groups=n)
    return F.conv2d(out, kernel.view(1, 1, k, 1).expand(n, 1, k, 1), groups=n)


def _filter_adjoint(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`_filter`: 'full' filtering (zero-padded by ``k - 1``); the window is
    symmetric, so no flip is needed. The convolutions pad by themselves, which is faster than
    padding copies of the maps."""
    n, k = maps.shape[1], kernel.numel()
    maps = maps.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(maps, kernel.view(1, 1, k, 1).expand(n, 1, k, 1), padding=(k - 1, 0),
                   groups=n)
    return F.conv2d(out, kernel.view(1, 1, 1, k).expand(n, 1, 1, k), padding=(0, k - 1),
                    groups=n)


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
                shift: float) -> tuple[torch.Tensor, ...]:
    r"""The factors of the SSIM map over the valid region, and the filtered means.

    Returns :math:`(\bar a, \bar d, \bar U, A_1, A_2, B_1, B_2)`, each :math:`(B, C, H - k + 1,
    W - k + 1)`; the map is :math:`A_1 A_2 / (B_1 B_2)`.

    Four maps are filtered instead of the usual five: with :math:`a = x + y - 2s` and
    :math:`d = x - y` (:math:`s` = ``shift`` = half the data range, which keeps the moments
    of :math:`a` small in float32), only sums and differences of the moments enter SSIM:

    .. math::

        4\mu_x\mu_y = \bar U^2 - \bar d^2, \quad
        2(\mu_x^2 + \mu_y^2) = \bar U^2 + \bar d^2, \quad
        4\sigma_{xy} = e - f, \quad 2(\sigma_x^2 + \sigma_y^2) = e + f

    with bars for the filtered maps, :math:`\bar U = \bar a + 2s` the filtered
    :math:`x + y`, :math:`e = \overline{a^2} - \bar a^2` and
    :math:`f = \overline{d^2} - \bar d^2`. Scaling numerator and denominator by 4,

    .. math::

        S = \frac{(\bar U^2 - \bar d^2 + 2C_1)(e - f + 2C_2)}
        {(\bar U^2 + \bar d^2 + 2C_1)(e + f + 2C_2)} = \frac{A_1 A_2}{B_1 B_2}.

    The constant :math:`2C_2` is added to :math:`a^2` before filtering (the window sums to
    one), which saves a pass over the map.
    """
    fa, fd, a2, b2 = _cs_terms(x, y, kernel, c2, shift)
    fu = fa + 2 * shift
    b1 = torch.addcmul(fu.new_tensor(2 * c1), fu, fu)
    a1 = torch.addcmul(b1, fd, fd, value=-1)
    b1.addcmul_(fd, fd)
    return fa, fd, fu, a1, a2, b1, b2


def _cs_terms(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c2: float,
              shift: float) -> tuple[torch.Tensor, ...]:
    r"""The filtered means and the contrast-structure factors over the valid region.

    Returns :math:`(\bar a, \bar d, A_2, B_2)` in the terms of :func:`_ssim_terms`; the
    contrast-structure map (the second factor of SSIM) is :math:`A_2 / B_2`.
    """
    c = x.shape[1]
    # The maps are built in NCHW, where each channel slice is one contiguous run, and then
    # copied once to channels_last, where oneDNN's depthwise 1-D convolutions are 2-4x faster.
    # Writing them straight into slices of a channels_last tensor makes each elementwise op
    # loop over only C values at a time (8-15% slower overall).
    maps = torch.empty(x.shape[0], 4 * c, *x.shape[2:], dtype=x.dtype, device=x.device)
    a = torch.add(x, y, out=maps[:, :c]).sub_(2 * shift)
    d = torch.sub(x, y, out=maps[:, c:2 * c])
    torch.addcmul(a.new_tensor(2 * c2), a, a, out=maps[:, 2 * c:3 * c])
    torch.mul(d, d, out=maps[:, 3 * c:])
    del a, d
    maps = maps.contiguous(memory_format=torch.channels_last)
    # Back to NCHW before the arithmetic, for the same reason.
    fa, fd, e, f = _filter(maps, kernel).contiguous().split(c, dim=1)
    del maps
    e.addcmul_(fa, fa, value=-1)
    f.addcmul_(fd, fd, value=-1)
    a2 = e - f
    b2 = e.add_(f)
    return fa, fd, a2, b2


class _SSIMFunction(torch.autograd.Function):
    r"""Per-image mean SSIM with an analytic backward.

    In the terms of :func:`_ssim_terms` (:math:`S = A_1 A_2 / (B_1 B_2)`), with
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
    def forward(ctx, x, y, kernel, c1, c2, shift):  # type: ignore[override]
        # Only the inputs are saved: the backward recomputes each strip's map, which costs one
        # more forward (cheap, see benchmarks/README.md) and keeps memory at one strip's worth.
        ctx.constants = (c1, c2, shift)
        ctx.save_for_backward(x, y, kernel)
        return _ssim_in_strips(x, y, kernel, c1, c2, shift)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        x, y, kernel = ctx.saved_tensors
        grad_x, grad_y = _ssim_backward(x, y, kernel, grad, *ctx.constants,
                                        ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return grad_x, grad_y, None, None, None, None


def _ssim_backward(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, grad: torch.Tensor,
                   c1: float, c2: float, shift: float, need_x: bool,
                   need_y: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of ``sum(grad * per-image SSIM)`` with respect to ``x`` and ``y`` (``None``
    where not needed), strip by strip (see :class:`_SSIMFunction`)."""
    k = kernel.numel()
    channels, height, width = x.shape[1:]
    count = channels * (height - k + 1) * (width - k + 1)
    weight = (grad / count).view(-1, 1, 1, 1)
    grad_x = torch.zeros_like(x) if need_x else None
    grad_y = torch.zeros_like(y) if need_y else None
    for top, bottom in _strips(x, k):
        # Output rows [top, bottom - k + 1) depend on input rows [top, bottom); the adjoint
        # filter spreads each strip's gradient over exactly those rows, and strips add up.
        xs, ys = x[:, :, top:bottom], y[:, :, top:bottom]
        terms = _ssim_terms(xs, ys, kernel, c1, c2, shift)
        grad_a, grad_d = _ssim_map_backward(xs, ys, kernel, shift, weight, terms)
        if grad_x is not None:
            grad_x[:, :, top:bottom] += grad_a + grad_d
        if grad_y is not None:
            grad_y[:, :, top:bottom] += grad_a - grad_d
    return grad_x, grad_y


def _ssim_map_backward(
    x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, shift: float, weight: torch.Tensor,
    terms: tuple[torch.Tensor, ...],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``sum(weight * S)`` over one map with respect to ``a = x + y - 2 shift``
    and ``d = x - y`` (see :class:`_SSIMFunction`)."""
    fa, fd, fu, a1, a2, b1, b2 = terms
    c = x.shape[1]
    inv = (b1 * b2).reciprocal_().mul_(weight)  # w / (B1 B2)
    sw = a1 * a2 * inv                          # w S
    g_a1, g_a2 = a2.mul_(inv), a1.mul_(inv)   # w dS/dA1, w dS/dA2
    g_b1, g_b2 = sw.div(b1).neg_(), sw.div_(b2).neg_()
    # The four derivative maps are written straight into one buffer (no concatenation copy).
    g = torch.empty(fa.shape[0], 4 * c, *fa.shape[2:], dtype=fa.dtype, device=fa.device)
    g_sq_a = torch.add(g_a2, g_b2, out=g[:, 2 * c:3 * c])
    torch.sub(g_b2, g_a2, out=g[:, 3 * c:])
    torch.add(g_a1, g_b1, out=g[:, :c]).mul_(fu).addcmul_(fa, g_sq_a, value=-1).mul_(2)
    torch.sub(g_b1, g_a1, out=g[:, c:2 * c]).add_(g_a2).sub_(g_b2).mul_(fd).mul_(2)
    f_a, f_d, f_sq_a, f_sq_d = _filter_adjoint(g, kernel).split(c, dim=1)
    a = (x + y).sub_(2 * shift)
    d = x - y
    return f_a.addcmul(a, f_sq_a, value=2), f_d.addcmul(d, f_sq_d, value=2)


# The same strip computations as opaque operators, for torch.compile: dynamo cannot trace the
# ``out=`` views of one buffer that the strips write (it failed with "IndexError: Dimension out
# of range"), and a traceable rewrite (plain out-of-place ops, autograd's backward, inductor's
# fusion) ran 1.1-2x slower than these (see benchmarks/README.md). As operators they keep their
# speed and values inside compiled graphs, fullgraph=True included.
@torch.library.custom_op("rainkit::ssim", mutates_args=())
def _ssim_op(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
             shift: float) -> torch.Tensor:
    return _ssim_in_strips(x, y, kernel, c1, c2, shift)


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


def _ssim_op_setup(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    x, y, kernel, c1, c2, shift = inputs
    ctx.save_for_backward(x, y, kernel)
    ctx.constants = (c1, c2, shift)


def _ssim_op_backward(ctx, grad):  # type: ignore[no-untyped-def]
    x, y, kernel = ctx.saved_tensors
    need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    grad_x, grad_y = _ssim_backward_op(x, y, kernel, grad, *ctx.constants, need_x, need_y)
    return (grad_x if need_x else None), (grad_y if need_y else None), None, None, None, None


_ssim_op.register_autograd(_ssim_op_backward, setup_context=_ssim_op_setup)


def _ssim_per_image(x: torch.Tensor, y: torch.Tensor, data_range: float, window_size: int,
                    sigma: float, k1: float, k2: float) -> torch.Tensor:
    kernel = _gaussian(window_size, sigma, x.dtype, x.device)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    if torch.compiler.is_compiling():
        return _ssim_op(x, y, kernel, c1, c2, data_range / 2)
    # Without inputs that need gradients, apply() records nothing and costs only the call.
    return _SSIMFunction.apply(x, y, kernel, c1, c2, data_range / 2)


# Output rows per strip are chosen so that one moment map of a strip holds about this many
# values: small enough for the temporaries to be reused from the heap and stay in cache.
_STRIP_VALUES = 1 << 17


def _strips(x: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """Input row ranges ``[top, bottom)`` whose valid outputs tile the output rows."""
    batch, channels, height, width = x.shape
    out_rows = height - k + 1
    rows = max(1, _STRIP_VALUES // max(1, batch * channels * width))
    return [(top, min(out_rows, top + rows) + k - 1) for top in range(0, out_rows, rows)]


def _ssim_in_strips(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
                    shift: float) -> torch.Tensor:
    """Per-image mean SSIM (no autograd graph), computed over strips of output rows.

    Whole-image temporaries of a large image are tens of MB each; allocating and page-faulting
    them dominated the time (see ``benchmarks/README.md``). Strips of rows, each with the
    ``k - 1`` rows of context the window needs, give the same sums with small temporaries.
    """
    k = kernel.numel()
    channels, height, width = x.shape[1:]
    out_rows = height - k + 1
    total = x.new_zeros(x.shape[0])
    for top, bottom in _strips(x, k):
        _, _, _, a1, a2, b1, b2 = _ssim_terms(x[:, :, top:bottom], y[:, :, top:bottom], kernel,
                                              c1, c2, shift)
        # (A1 / B1)(A2 / B2) in place: no new map (a batched dot product of the two ratios
        # was slower, and less accurate in float32)
        total += a1.div_(b1).mul_(a2.div_(b2)).sum(dim=(1, 2, 3))
    return total / (channels * out_rows * (width - k + 1))


def ssim(
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
            :data:`CONVENTIONS` or a :class:`ScoringConvention`); see :func:`psnr`. Every
            convention uses the window below with its defaults; other values raise
            :class:`ValueError` when a convention is given.
        quantize: ``"round"`` or ``"floor"``: snap ``input`` to 8 bits first, as a test script
            saving the output did; see :func:`psnr`. ``None`` (default): as given.
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
    check_window_options(window_size, sigma, k1, k2)
    p = prepare(input, target, data_range=data_range, crop_border=crop_border,
                y_channel=y_channel, reduction=reduction, convention=convention,
                quantize=quantize, window=(window_size, sigma, k1, k2))
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

    def __init__(self, *, data_range: float | None = None, crop_border: int | None = None,
                 y_channel: bool | None = None,
                 convention: str | ScoringConvention | None = None,
                 quantize: Quantize | None = None, window_size: int = 11, sigma: float = 1.5,
                 k1: float = 0.01, k2: float = 0.03, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_window_options(window_size, sigma, k1, k2)
        check_options(data_range, crop_border, y_channel, reduction, convention=convention,
                      quantize=quantize, window=(window_size, sigma, k1, k2))
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
                    k1=self.k1, k2=self.k2, reduction=self.reduction)  # type: ignore[return-value]

    def extra_repr(self) -> str:
        name = getattr(self.convention, "name", self.convention)
        return (f"data_range={self.data_range}, crop_border={self.crop_border}, "
                f"y_channel={self.y_channel}, convention={name!r}, quantize={self.quantize!r}, "
                f"window_size={self.window_size}, "
                f"sigma={self.sigma}, k1={self.k1}, k2={self.k2}, reduction={self.reduction!r}")

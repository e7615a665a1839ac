"""The kernels shared by SSIM and MS-SSIM (and their losses): windows, separable filtering in
row strips, the fused SSIM moments and their analytic backward.

Names here are public within :mod:`rainkit.metrics` (the module itself is private): they are
the building blocks of :func:`rainkit.metrics.ssim` and :func:`rainkit.metrics.ms_ssim`, checked
through those functions' tests (references and gradcheck).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "STRIP_VALUES",
    "auto_downsample",
    "cs_terms",
    "filter_adjoint",
    "gaussian_window",
    "row_strips",
    "separable_filter",
    "ssim_constants",
    "ssim_in_strips",
    "ssim_map_backward",
    "ssim_terms",
    "uniform_window",
]


def ssim_constants(data_range: float, k1: float, k2: float, dtype: torch.dtype, *,
                   range_factor: float = 1.0) -> tuple[float, float]:
    r"""SSIM's stabilising constants, computed in float64 and checked to fit ``dtype``.

    .. math::

        C_1 = (k_1 L_s)^2, \quad C_2 = (k_2 L_s)^2, \quad L_s = \text{range\_factor}
        \cdot L

    They enter the map as :math:`B_1 = \bar U^2 + \bar d^2 + 2C_1` and
    :math:`B_2 = e + f + 2C_2` (:func:`ssim_terms`); for images in :math:`[0, L]`,
    :math:`B_1 \le 5L^2 + 2C_1` and :math:`B_2 \le 2L^2 + 2C_2`, and the backward forms their
    product. So ``data_range``, ``k1`` and ``k2`` are accepted when both constants are at
    least the dtype's smallest normal number (else they vanish and a flat region gives
    :math:`0/0`) and :math:`(5L^2 + 2C_1)(2L^2 + 2C_2)` is at most its largest value
    (3.4e38 for float32, 1.8e308 for float64): with the default constants, :math:`L` up to
    about 2.4e9 in float32 and 6.5e76 in float64. Anything beyond would give NaN or infinite
    SSIM (or gradients) without a word; it is a :class:`ValueError` naming all three.

    Args:
        data_range: :math:`L`, the images' scale (1.0 for :math:`[0, 1]`, 255 for 0-255).
        k1: the luminance constant's factor.
        k2: the contrast-structure constant's factor.
        dtype: the floating dtype SSIM is computed in.
        range_factor: :math:`L_s / L` (2 for scikit-image's :math:`[-1, 1]` float range).

    Returns:
        ``(C1, C2)`` as Python floats.

    Raises:
        ValueError: the constants do not fit ``dtype`` (see above).
    """
    peak = float(data_range) * float(range_factor)
    # products, not **: a float64 overflow gives inf here rather than Python's OverflowError
    c1 = (k1 * peak) * (k1 * peak)
    c2 = (k2 * peak) * (k2 * peak)
    square = float(data_range) * float(data_range)
    largest = (5 * square + 2 * c1) * (2 * square + 2 * c2)
    info = torch.finfo(dtype)
    if math.isfinite(largest) and largest <= info.max and min(c1, c2) >= info.tiny:
        return c1, c2
    name = str(dtype).removeprefix("torch.")
    if min(c1, c2) < info.tiny:
        problem = (f"C1 = (k1 L)^2 = {c1:.3g} and C2 = (k2 L)^2 = {c2:.3g} must be at least "
                   f"{name}'s smallest normal number {info.tiny:.3g} (else they vanish and a "
                   f"flat region gives 0/0)")
    else:
        problem = (f"with C1 = (k1 L)^2 = {c1:.3g} and C2 = (k2 L)^2 = {c2:.3g}, the largest "
                   f"product of SSIM's terms, (5 L^2 + 2 C1)(2 L^2 + 2 C2) = {largest:.3g}, "
                   f"exceeds {name}'s largest value {info.max:.3g}")
    raise ValueError(
        f"data_range={data_range:g}, k1={k1:g} and k2={k2:g} do not fit SSIM's arithmetic in "
        f"{name}: {problem}; give data_range as the images' scale (1.0 for [0, 1], 255 for "
        f"0-255) and k1, k2 near the paper's 0.01 and 0.03"
    )


def gaussian_window(window_size: int, sigma: float, dtype: torch.dtype,
              device: torch.device) -> torch.Tensor:
    coords = torch.arange(window_size, dtype=torch.float64) - (window_size - 1) / 2
    g = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def uniform_window(window_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The 1-D factor of a ``window_size`` square mean window (scipy's ``uniform_filter``)."""
    return torch.full((window_size,), 1.0 / window_size, dtype=dtype, device=device)


def auto_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    r"""Wang's 2009 ``ssim.m`` downsampling of ``(B, C, H, W)`` images by ``factor`` :math:`f`.

    MATLAB ``imfilter(img, ones(f) / f^2, 'symmetric', 'same')`` then ``img(1:f:end, 1:f:end)``:
    output pixel :math:`(i, j)` is the mean of input rows :math:`fi - \lfloor (f - 1) / 2
    \rfloor, \dots, fi + \lfloor f / 2 \rfloor` (``imfilter`` correlates with the kernel
    centre at :math:`\lfloor (f + 1) / 2 \rfloor`, 1-based) and the same columns, rows outside
    the image mirrored with the edge repeated (``'symmetric'``: row :math:`-1` is row 0, row
    :math:`H` is row :math:`H - 1`). The output is :math:`\lceil H / f \rceil \times
    \lceil W / f \rceil`. ``factor`` 1 returns ``x`` itself. Differentiable.
    """
    if factor == 1:
        return x
    for dim in (-2, -1):
        size = x.shape[dim]
        offsets = torch.arange(-((factor - 1) // 2), factor // 2 + 1, device=x.device)
        starts = torch.arange(0, size, factor, device=x.device)
        index = (starts[:, None] + offsets[None, :]).flatten()
        # 'symmetric' mirror (the edge repeated); the window reaches at most f - 1 < size out
        index = torch.where(index < 0, -index - 1, index)
        index = torch.where(index >= size, 2 * size - 1 - index, index)
        picked = x.index_select(dim, index)
        shape = list(x.shape)
        shape[dim] = starts.numel()
        shape.insert(len(shape) + dim + 1, factor)
        x = picked.view(shape).mean(dim=dim)
    return x


def separable_filter(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of ``(B, N, H, W)`` maps in one grouped call per pass.

    Depthwise (grouped) convolution on channels_last maps was the fastest of the variants tried
    on CPU (see ``benchmarks/README.md``): a single-channel convolution over
    ``(B * N, 1, H, W)``, 1-D convolutions over reshaped rows and columns, a sum of shifted
    slices, a dense 2-D window and the default (NCHW) layout were slower.
    """
    n, k = maps.shape[1], kernel.numel()
    out = F.conv2d(maps, kernel.view(1, 1, 1, k).expand(n, 1, 1, k), groups=n)
    return F.conv2d(out, kernel.view(1, 1, k, 1).expand(n, 1, k, 1), groups=n)


def filter_adjoint(maps: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`separable_filter`: 'full' filtering (zero-padded by ``k - 1``); the
    window is symmetric, so no flip is needed. The convolutions pad by themselves, which is
    faster than padding copies of the maps."""
    n, k = maps.shape[1], kernel.numel()
    maps = maps.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(maps, kernel.view(1, 1, k, 1).expand(n, 1, k, 1), padding=(k - 1, 0),
                   groups=n)
    return F.conv2d(out, kernel.view(1, 1, 1, k).expand(n, 1, 1, k), padding=(0, k - 1),
                    groups=n)


def ssim_terms(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
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
    fa, fd, a2, b2 = cs_terms(x, y, kernel, c2, shift)
    fu = fa + 2 * shift
    b1 = torch.addcmul(fu.new_tensor(2 * c1), fu, fu)
    a1 = torch.addcmul(b1, fd, fd, value=-1)
    b1.addcmul_(fd, fd)
    return fa, fd, fu, a1, a2, b1, b2


def cs_terms(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c2: float,
              shift: float) -> tuple[torch.Tensor, ...]:
    r"""The filtered means and the contrast-structure factors over the valid region.

    Returns :math:`(\bar a, \bar d, A_2, B_2)` in the terms of :func:`ssim_terms`; the
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
    fa, fd, e, f = torch.split(separable_filter(maps, kernel).contiguous(), c, dim=1)
    del maps
    e.addcmul_(fa, fa, value=-1)
    f.addcmul_(fd, fd, value=-1)
    a2 = e - f
    b2 = e.add_(f)
    return fa, fd, a2, b2



def ssim_map_backward(
    x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, shift: float, weight: torch.Tensor,
    terms: tuple[torch.Tensor, ...],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of ``sum(weight * S)`` over one map with respect to ``a = x + y - 2 shift``
    and ``d = x - y`` (see :class:`rainkit.metrics.ssim._SSIMFunction`)."""
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
    f_a, f_d, f_sq_a, f_sq_d = torch.split(filter_adjoint(g, kernel), c, dim=1)
    a = (x + y).sub_(2 * shift)
    d = x - y
    return f_a.addcmul(a, f_sq_a, value=2), f_d.addcmul(d, f_sq_d, value=2)



# Output rows per strip are chosen so that one moment map of a strip holds about this many
# values: small enough for the temporaries to be reused from the heap and stay in cache.
STRIP_VALUES = 1 << 17


def row_strips(x: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """Input row ranges ``[top, bottom)`` whose valid outputs tile the output rows."""
    batch, channels, height, width = x.shape
    out_rows = height - k + 1
    rows = max(1, STRIP_VALUES // max(1, batch * channels * width))
    return [(top, min(out_rows, top + rows) + k - 1) for top in range(0, out_rows, rows)]


def ssim_in_strips(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, c1: float, c2: float,
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
    for top, bottom in row_strips(x, k):
        _, _, _, a1, a2, b1, b2 = ssim_terms(x[:, :, top:bottom], y[:, :, top:bottom], kernel,
                                              c1, c2, shift)
        # (A1 / B1)(A2 / B2) in place: no new map (a batched dot product of the two ratios
        # was slower, and less accurate in float32)
        total += a1.div_(b1).mul_(a2.div_(b2)).sum(dim=(1, 2, 3))
    return total / (channels * out_rows * (width - k + 1))


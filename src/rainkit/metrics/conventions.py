"""Named scoring conventions: what published evaluation scripts do before and inside the window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from rainkit._checks import check_int

__all__ = [
    "CONVENTIONS",
    "CONVENTION_ALIASES",
    "QUANTIZE_MODES",
    "Quantize",
    "SSIMWindow",
    "ScoringConvention",
    "auto_downsample_factor",
    "resolve_convention",
]

Quantize = Literal["round", "floor"]
QUANTIZE_MODES: tuple[str, ...] = get_args(Quantize)
SSIMWindow = Literal["gaussian", "uniform"]


def auto_downsample_factor(height: int, width: int) -> int:
    r"""The subsampling factor of Wang's 2009 ``ssim.m``: :math:`f = \max(1,
    \mathrm{round}(\min(H, W) / 256))`, MATLAB's ``round`` (half away from zero).

    So :math:`f = 1` below 384 pixels on the short side, 2 from 384, 3 from 640, 4 from 896.

    Args:
        height: image height :math:`H`, an int ``>= 1``.
        width: image width :math:`W`, an int ``>= 1``.

    Returns:
        The factor :math:`f`, an int ``>= 1``.

    Raises:
        TypeError: ``height`` or ``width`` is not an int (``bool`` included).
        ValueError: ``height`` or ``width`` is below 1.

    Example:
        >>> [auto_downsample_factor(s, 1000) for s in (383, 384, 639, 640, 896)]
        [1, 2, 2, 3, 4]
    """
    height = check_int(height, "height", minimum=1)
    width = check_int(width, "width", minimum=1)
    return max(1, (min(height, width) + 128) // 256)


@dataclass(frozen=True)
class ScoringConvention:
    r"""How one published evaluation script turns an RGB image pair into PSNR and SSIM.

    Every convention scores at the full scale of the input (the peak :math:`L` of PSNR is
    ``255`` for 8-bit data, ``1.0`` for floating images in :math:`[0, 1]`; ``data_range``,
    when given, says which scale floating inputs are on). The fields say, in order, what the
    script does:

    *Before the metrics* (shared by PSNR and SSIM):

    - ``round_y``: snap both images to the 256 levels of 8-bit files (floating inputs: the
      restored image by ``quantize``, default rounding; the clean image by rounding), then
      round :math:`Y` to an integer on the 0-255 scale (half away from zero), which is what
      MATLAB's ``rgb2ycbcr`` does to a ``uint8`` image;
    - ``y_channel``: score the luma of ITU-R BT.601 limited-range YCbCr (MATLAB's
      ``rgb2ycbcr``), :math:`Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255` on the 0-255
      scale with :math:`R, G, B \in [0, 255]`, instead of the three RGB channels;
    - ``crop_border``: pixels the script drops on each side, or ``None`` where the script
      takes it as an option (then it defaults to 0 and ``crop_border=`` sets it).

    *SSIM* (Wang et al.'s index, the map averaged over the *valid* region and over channels):

    - ``ssim_downsample``: Wang's 2009 ``ssim.m`` "with automatic downsampling": with
      :math:`f` = :func:`auto_downsample_factor`, each image is filtered by an
      :math:`f \times f` mean (MATLAB ``imfilter(img, ones(f)/f^2, 'symmetric', 'same')``:
      correlation, kernel centre at :math:`\lfloor (f + 1) / 2 \rfloor`, mirrored borders)
      and every :math:`f`-th pixel is kept from the first (``img(1:f:end, 1:f:end)``);
    - ``ssim_window`` (``"gaussian"`` or ``"uniform"``), ``window_size`` and ``sigma``: the
      window;
    - ``k1``, ``k2``: :math:`C_1 = (k_1 L_s)^2`, :math:`C_2 = (k_2 L_s)^2`;
    - ``ssim_range_factor``: :math:`L_s` as a multiple of the data range (2 where
      scikit-image took a float image's range as :math:`[-1, 1]`);
    - ``sample_covariance``: variances and covariance with the :math:`N / (N - 1)` factor of
      a sample estimate (:math:`N` = ``window_size`` squared), as scikit-image's default.
      Equivalent to dividing :math:`C_2` by that factor.

    Attributes:
        name: the canonical key in :data:`CONVENTIONS`.
        y_channel: score BT.601 luma (``True``) or RGB (``False``).
        round_y: score the luma of 8-bit RGB, rounded to 8-bit integers.
        crop_border: border fixed by the script, or ``None`` if it is an option.
        pipeline_quantize: how the reference repository's *test script* turned the network's
            floating output into the file that the evaluation script then read:
            ``"round"`` (:math:`\mathrm{round}(255\,\mathrm{clamp}(x, 0, 1))`), ``"floor"``
            (truncation, :math:`\lfloor 255\,\mathrm{clamp}(x, 0, 1) \rfloor`) or ``None``
            (the float output is scored as it is). It is informative: scoring functions
            quantize only when given ``quantize=``; pass
            ``quantize=convention.pipeline_quantize`` to reproduce the whole pipeline.
        reproduces: the script(s) the convention reproduces, with repository and path.
        formula: what the script computes, in words.
        aliases: other accepted names (old names kept working).
        window_size: SSIM window side.
        sigma: SSIM Gaussian standard deviation (unused by a uniform window).
        k1: SSIM luminance constant.
        k2: SSIM contrast-structure constant.
        ssim_window: ``"gaussian"`` or ``"uniform"``.
        sample_covariance: sample (``True``) or population (``False``) moments.
        ssim_range_factor: SSIM's :math:`L` as a multiple of the data range.
        ssim_downsample: Wang's automatic :math:`f \times f` downsampling before SSIM.

    Example:
        >>> from rainkit.metrics import CONVENTIONS
        >>> CONVENTIONS["mprnet-y"].round_y
        True
        >>> CONVENTIONS["matlab-y"].name  # the old name of PReNet's convention
        'prenet-y'
        >>> sorted({c.name for c in CONVENTIONS.values()})
        ['basicsr-y', 'mprnet-y', 'prenet-y', 'rgb', 'spanet-rgb']
    """

    name: str
    y_channel: bool
    round_y: bool
    crop_border: int | None
    pipeline_quantize: Quantize | None
    reproduces: str
    formula: str
    aliases: tuple[str, ...] = ()
    window_size: int = 11
    sigma: float = 1.5
    k1: float = 0.01
    k2: float = 0.03
    ssim_window: SSIMWindow = "gaussian"
    sample_covariance: bool = False
    ssim_range_factor: float = 1.0
    ssim_downsample: bool = False


_CONVENTIONS = (
    ScoringConvention(
        name="prenet-y",
        aliases=("matlab-y",),
        y_channel=True,
        round_y=False,
        crop_border=0,
        pipeline_quantize="floor",
        ssim_downsample=True,
        reproduces=(
            "PReNet (csdwren/PReNet, statistic/statistic_rain100H.m, statistic_rain100L.m, "
            "statistic_rain1400.m), also used by BRN, RCDNet and SPDNet; DRSformer's "
            "DID-Data/DDN-Data script (cschenxiang/DRSformer, "
            "evaluations/Evaluation_DID-Data_DDN-Data/statistic.m); their `ssim` is Wang's "
            "2009 ssim.m 'with automatic downsampling' (the copy the same author ships in "
            "csdwren/SelfDeblur, statistic/ssim.m)"
        ),
        formula=(
            "x = rgb2ycbcr(im2double(imread(f))); Y = x(:, :, 1), a double in [16, 235] / 255, "
            "not rounded; psnr(Y, Y_gt) with peak 1; ssim(Y * 255, Y_gt * 255) with L = 255 "
            "in float64, where ssim.m first low-passes each image with an f x f mean "
            "(imfilter 'symmetric', 'same') and keeps img(1:f:end, 1:f:end), "
            "f = max(1, round(min(H, W) / 256)): f = 1 (no change) below 384 pixels, as on "
            "Rain100L/H (481x321); f = 2 from 384 pixels, as on the 512x384 pairs of "
            "Rain1400/DDN-Data and DID-Data. The test script saved outputs as "
            "np.uint8(255 * clamp(out, 0, 1)), i.e. truncated."
        ),
    ),
    ScoringConvention(
        name="mprnet-y",
        aliases=("matlab-y-uint8",),
        y_channel=True,
        round_y=True,
        crop_border=0,
        pipeline_quantize="round",
        reproduces=(
            "MPRNet (swz30/MPRNet, Deraining/evaluate_PSNR_SSIM.m), Restormer "
            "(swz30/Restormer, Deraining/evaluate_PSNR_SSIM.m), DRSformer "
            "(cschenxiang/DRSformer, evaluations/Evalution_Rain200L_Rain200H_SPA-Data/"
            "evaluate_PSNR_SSIM.m), IDT (jiexiaou/IDT, evaluaterain.m)"
        ),
        formula=(
            "Y = rgb2ycbcr(imread(f))(:, :, 1) on the uint8 image, so Y is rounded to uint8; "
            "PSNR = 20 log10(255 / rmse) of double(Y) - double(Y_gt); SSIM_index(Y, Y_gt) "
            "(Wang's 2003 ssim_index: fspecial('gaussian', 11, 1.5), filter2 'valid', "
            "K = [0.01 0.03], L = 255, no downsampling) in float64. The test scripts saved "
            "outputs with img_as_ubyte(clamp(out, 0, 1)), i.e. rounded. Results are paired "
            "with ground truth by sorted directory order, not by name."
        ),
    ),
    ScoringConvention(
        name="basicsr-y",
        y_channel=True,
        round_y=False,
        crop_border=None,
        pipeline_quantize="round",
        reproduces=(
            "BasicSR (XPixelGroup/BasicSR, basicsr/metrics/psnr_ssim.py: calculate_psnr and "
            "calculate_ssim with test_y_channel=True; basicsr/metrics/metric_util.py: "
            "to_y_channel)"
        ),
        formula=(
            "crop crop_border pixels; Y = bgr2ycbcr(img.astype(float32) / 255, y_only=True) * "
            "255, computed in float32 and not rounded; PSNR = 10 log10(255^2 / mse) in float64; "
            "SSIM with cv2.getGaussianKernel(11, 1.5), 'valid' region, C1 = (0.01 * 255)^2, "
            "C2 = (0.03 * 255)^2 in float64, no downsampling. Validation converts outputs with "
            "tensor2img: (clamp(out, 0, 1) * 255).round()."
        ),
    ),
    ScoringConvention(
        name="rgb",
        y_channel=False,
        round_y=False,
        crop_border=0,
        pipeline_quantize=None,
        reproduces=(
            "scikit-image (skimage.metrics.peak_signal_noise_ratio and structural_similarity("
            "gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1))"
        ),
        formula=(
            "PSNR over all RGB values; SSIM per RGB channel, averaged over channels; the values "
            "as given, no colour conversion."
        ),
    ),
    ScoringConvention(
        name="spanet-rgb",
        y_channel=False,
        round_y=False,
        crop_border=0,
        pipeline_quantize=None,
        window_size=7,
        ssim_window="uniform",
        sample_covariance=True,
        ssim_range_factor=2.0,
        reproduces=(
            "SPA-Data's own table: SPANet (stevewongv/SPANet, main.py run_test), "
            "skimage.measure.compare_ssim(pred, B, multichannel=True) and "
            "compare_psnr(pred, B) at the defaults of scikit-image 0.14 (2019)"
        ),
        formula=(
            "the float network output clipped to [0, 1], not quantized, against the float "
            "ground truth, in RGB (BGR as cv2 reads it: the same mean); PSNR with peak 1 "
            "(compare_psnr's data range for non-negative float images); SSIM per channel, "
            "averaged: 7x7 uniform window, sample covariance (N / (N - 1), N = 49), "
            "K = [0.01 0.03] and a data range of 2 (dtype_range of floats is [-1, 1]), the "
            "map cropped by 3 pixels = the valid region, in float64."
        ),
    ),
)

#: Old names that keep working, mapped to the canonical name.
CONVENTION_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: c.name for c in _CONVENTIONS for alias in c.aliases}
)

#: Every named convention, by name (read-only). The aliases of :data:`CONVENTION_ALIASES`
#: (``"matlab-y"`` for ``"prenet-y"``, ``"matlab-y-uint8"`` for ``"mprnet-y"``) are keys too,
#: mapped to the same object, whose ``name`` is the canonical one. See
#: :class:`ScoringConvention`.
CONVENTIONS: Mapping[str, ScoringConvention] = MappingProxyType(dict(sorted(
    [(c.name, c) for c in _CONVENTIONS] + [(a, c) for c in _CONVENTIONS for a in c.aliases]
)))


def resolve_convention(convention: object) -> ScoringConvention:
    """Return the :class:`ScoringConvention` for a name or alias (or the convention itself)."""
    if isinstance(convention, ScoringConvention):
        return convention
    names = ", ".join(repr(n) for n in CONVENTIONS)
    if not isinstance(convention, str):
        raise TypeError(
            f"convention must be a str (one of {names}) or a ScoringConvention, got "
            f"{type(convention).__name__}"
        )
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {names}, got {convention!r}")
    return CONVENTIONS[convention]

"""Named scoring conventions: the Y channel, rounding and crop of published evaluation scripts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

__all__ = [
    "CONVENTIONS",
    "QUANTIZE_MODES",
    "Quantize",
    "ScoringConvention",
    "resolve_convention",
]

Quantize = Literal["round", "floor"]
QUANTIZE_MODES: tuple[str, ...] = get_args(Quantize)


@dataclass(frozen=True)
class ScoringConvention:
    r"""How one published evaluation script turns an RGB image pair into PSNR and SSIM.

    Every convention scores at the full scale of the input (the peak :math:`L` of PSNR and
    SSIM's :math:`L` are ``255`` for 8-bit data, ``1.0`` for floating images in
    :math:`[0, 1]`; ``data_range``, when given, says which scale floating inputs are on), and
    uses Wang et al.'s SSIM: an 11x11 Gaussian window with :math:`\sigma = 1.5`, statistics
    over the *valid* region only, :math:`K_1 = 0.01`, :math:`K_2 = 0.03`, the map averaged over
    the valid region (and over channels for RGB). They differ in what is scored:

    - ``y_channel``: score the luma of ITU-R BT.601 limited-range YCbCr (MATLAB's
      ``rgb2ycbcr``), :math:`Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255` on the 0-255
      scale with :math:`R, G, B \in [0, 255]`, instead of the three RGB channels;
    - ``round_y``: compute :math:`Y` of 8-bit RGB and round it to an integer on the 0-255 scale
      (half away from zero), which is what ``rgb2ycbcr`` does to a ``uint8`` image; floating
      inputs are first snapped to the 256 levels of their data range (the restored image by
      ``quantize``, default rounding; the clean image by rounding);
    - ``crop_border``: pixels the script drops on each side, or ``None`` where the script
      takes it as an option (then it defaults to 0 and ``crop_border=`` sets it).

    Attributes:
        name: the key in :data:`CONVENTIONS`.
        y_channel: score BT.601 luma (``True``) or RGB (``False``).
        round_y: score the luma of 8-bit RGB, rounded to 8-bit integers.
        crop_border: border fixed by the script, or ``None`` if it is an option.
        pipeline_quantize: how the reference repository's *test script* turned the network's
            floating output into the 8-bit file that the evaluation script then read:
            ``"round"`` (:math:`\mathrm{round}(255\,\mathrm{clamp}(x, 0, 1))`), ``"floor"``
            (truncation, :math:`\lfloor 255\,\mathrm{clamp}(x, 0, 1) \rfloor`) or ``None``
            (nothing is saved). It is informative: scoring functions quantize only when
            given ``quantize=``; pass ``quantize=convention.pipeline_quantize`` to reproduce
            the whole pipeline on a floating output.
        window_size: SSIM window side (11 for every script here).
        sigma: SSIM Gaussian standard deviation (1.5).
        k1: SSIM luminance constant (0.01).
        k2: SSIM contrast-structure constant (0.03).
        reproduces: the script(s) the convention reproduces, with repository and path.
        formula: what the script computes, in words.

    Example:
        >>> from rainkit.metrics import CONVENTIONS
        >>> CONVENTIONS["matlab-y-uint8"].round_y
        True
        >>> sorted(CONVENTIONS)
        ['basicsr-y', 'matlab-y', 'matlab-y-uint8', 'rgb']
    """

    name: str
    y_channel: bool
    round_y: bool
    crop_border: int | None
    pipeline_quantize: Quantize | None
    reproduces: str
    formula: str
    window_size: int = 11
    sigma: float = 1.5
    k1: float = 0.01
    k2: float = 0.03


_CONVENTIONS = (
    ScoringConvention(
        name="matlab-y",
        y_channel=True,
        round_y=False,
        crop_border=0,
        pipeline_quantize="floor",
        reproduces=(
            "PReNet (csdwren/PReNet, statistic/statistic_rain100H.m, statistic_rain100L.m, "
            "statistic_rain1400.m); DRSformer's DID-Data/DDN-Data script "
            "(cschenxiang/DRSformer, evaluations/Evaluation_DID-Data_DDN-Data/statistic.m)"
        ),
        formula=(
            "x = rgb2ycbcr(im2double(imread(f))); Y = x(:, :, 1), a double in [16, 235] / 255, "
            "not rounded; psnr(Y, Y_gt) with peak 1; ssim(Y * 255, Y_gt * 255) with L = 255; "
            "all in float64. The scripts call an `ssim` they do not ship; with Wang's 2009 "
            "ssim.m (which the same author ships in csdwren/SelfDeblur) images are first "
            "box-filtered and subsampled by f = max(1, round(min(H, W) / 256)), so f = 1 "
            "(no change) below 384 pixels, as on Rain100L/H; rainkit never subsamples. The "
            "test script saved outputs as np.uint8(255 * clamp(out, 0, 1)), i.e. truncated."
        ),
    ),
    ScoringConvention(
        name="matlab-y-uint8",
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
            "K = [0.01 0.03], L = 255) in float64. The test scripts saved outputs with "
            "img_as_ubyte(clamp(out, 0, 1)), i.e. rounded."
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
            "C2 = (0.03 * 255)^2 in float64. Validation converts outputs with tensor2img: "
            "(clamp(out, 0, 1) * 255).round()."
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
)

#: Every named convention, by name (read-only). See :class:`ScoringConvention`.
CONVENTIONS: Mapping[str, ScoringConvention] = MappingProxyType(
    {c.name: c for c in sorted(_CONVENTIONS, key=lambda c: c.name)}
)


def resolve_convention(convention: object) -> ScoringConvention:
    """Return the :class:`ScoringConvention` for a name (or the convention itself)."""
    if isinstance(convention, ScoringConvention):
        return convention
    if not isinstance(convention, str):
        raise TypeError(
            "convention must be a str (one of "
            f"{', '.join(repr(n) for n in CONVENTIONS)}) or a ScoringConvention, got "
            f"{type(convention).__name__}"
        )
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be one of {', '.join(repr(n) for n in CONVENTIONS)}, "
            f"got {convention!r}"
        )
    return CONVENTIONS[convention]

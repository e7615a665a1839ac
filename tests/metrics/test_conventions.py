"""Scoring conventions against the published evaluation scripts, re-written here with numpy/scipy.

The references below are transcriptions of the scripts, never rainkit's own output:

- MATLAB ``rgb2ycbcr`` (Image Processing Toolbox): ``T = scale * [65.481 128.553 24.966]``,
  offset 16 (uint8) or 16/255 (double), each pixel ``T(1) R + T(2) G + T(3) B + offset`` in
  double, converted to uint8 (round half away from zero) for uint8 input.
- Wang's ``ssim_index.m`` (2003): ``fspecial('gaussian', 11, 1.5)`` normalised,
  ``filter2(window, img, 'valid')``, ``K = [0.01 0.03]``, ``L = 255``, ``mean2`` of the map.
- MPRNet/Restormer ``evaluate_PSNR_SSIM.m``: Y of the uint8 image, ``20 log10(255 / rmse)``.
- PReNet ``statistic/*.m``: Y of ``im2double``, MATLAB ``psnr`` (peak 1), ``ssim(Y*255, ...)``.
- BasicSR ``calculate_psnr`` / ``calculate_ssim`` with ``test_y_channel=True`` (``to_y_channel``
  in float32, crop first, cv2 Gaussian 11 / 1.5, 'valid').
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from rainkit.metrics import (
    CONVENTION_ALIASES,
    CONVENTIONS,
    PSNR,
    SSIM,
    ScoringConvention,
    psnr,
    score,
    ssim,
)

skimage_data = pytest.importorskip("skimage.data")
skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_util = pytest.importorskip("skimage.util")

ROOT = Path(__file__).resolve().parents[2]
# /work/shared sits beside the repository (../shared), or one level further up from a worktree
RAIN_DEV_VAL = next((p / "data" / "rain-dev" / "val" for p in (ROOT.parent / "shared",
                                                              ROOT.parent.parent / "shared")
                     if (p / "data" / "rain-dev" / "val").is_dir()), ROOT / "missing")

_COEFFS = np.array([65.481, 128.553, 24.966])


# --------------------------------------------------------------------------- references
def matlab_rgb2ycbcr_y(rgb: np.ndarray) -> np.ndarray:
    """Y of MATLAB's rgb2ycbcr: uint8 in -> uint8 out (rounded), double in -> double out."""
    if rgb.dtype == np.uint8:
        t = (1 / 255) * _COEFFS
        r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
        y = t[0] * r + t[1] * g + t[2] * b + 16.0
        # conversion to uint8: round half away from zero (values are in [16, 235])
        return (np.floor(y) + (y - np.floor(y) >= 0.5)).astype(np.uint8)
    t = _COEFFS / 255
    return t[0] * rgb[..., 0] + t[1] * rgb[..., 1] + t[2] * rgb[..., 2] + 16 / 255


def fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    half = (size - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    return h / h.sum()


def wang_ssim_index(img1: np.ndarray, img2: np.ndarray, L: float = 255.0) -> float:
    """Wang's ssim_index.m with its defaults (K = [0.01 0.03], 11x11 Gaussian, 'valid')."""
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)
    # Wang's 2009 ssim.m would subsample by f = max(1, round(min(M, N) / 256)); the images
    # used here are small enough for f = 1, where it equals ssim_index.m.
    assert max(1, math.floor(min(img1.shape) / 256 + 0.5)) == 1
    window = fspecial_gaussian()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2

    def filter2(a: np.ndarray) -> np.ndarray:  # correlation = convolution with rot90(w, 2)
        return convolve2d(a, np.rot90(window, 2), mode="valid")

    mu1, mu2 = filter2(img1), filter2(img2)
    s11 = filter2(img1 * img1) - mu1 * mu1
    s22 = filter2(img2 * img2) - mu2 * mu2
    s12 = filter2(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / (
        (mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    return float(ssim_map.mean())


def mprnet_script(output: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """MPRNet/Restormer Deraining/evaluate_PSNR_SSIM.m on two uint8 RGB images."""
    y1, y2 = matlab_rgb2ycbcr_y(output), matlab_rgb2ycbcr_y(gt)
    rmse = math.sqrt(np.mean((y1.astype(np.float64) - y2.astype(np.float64)) ** 2))
    return 20 * math.log10(255 / rmse), wang_ssim_index(y1, y2)


def prenet_script(output: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """PReNet statistic/statistic_rain100L.m on two uint8 RGB images (read with imread)."""
    x = matlab_rgb2ycbcr_y(output.astype(np.float64) / 255)  # im2double
    x_true = matlab_rgb2ycbcr_y(gt.astype(np.float64) / 255)
    tp = 10 * math.log10(1.0 / np.mean((x - x_true) ** 2))  # MATLAB psnr, peak 1 for double
    return tp, wang_ssim_index(x * 255, x_true * 255)


def basicsr_to_y_channel(img_rgb: np.ndarray) -> np.ndarray:
    """basicsr.metrics.metric_util.to_y_channel on an RGB uint8 image (BasicSR holds BGR)."""
    img = img_rgb[..., ::-1].astype(np.float32) / 255.0     # BGR, float32 in [0, 1]
    # bgr2ycbcr(y_only=True): _convert_input_type_range keeps float32 [0, 1] as it is
    y = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    y = (y / 255.0).astype(np.float32)                       # _convert_output_type_range
    return y[..., None] * 255.0


def basicsr_script(output: np.ndarray, gt: np.ndarray, crop_border: int) -> tuple[float, float]:
    """calculate_psnr and calculate_ssim(test_y_channel=True) on two uint8 RGB images."""
    if crop_border:
        output = output[crop_border:-crop_border, crop_border:-crop_border]
        gt = gt[crop_border:-crop_border, crop_border:-crop_border]
    y1 = basicsr_to_y_channel(output).astype(np.float64)[..., 0]
    y2 = basicsr_to_y_channel(gt).astype(np.float64)[..., 0]
    p = 10.0 * math.log10(255.0 * 255.0 / np.mean((y1 - y2) ** 2))
    # _ssim: cv2.getGaussianKernel(11, 1.5) outer product, filter2D, [5:-5, 5:-5] = 'valid'
    return p, wang_ssim_index(y1, y2)


# --------------------------------------------------------------------------- data
def _to_tensor(image: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float64) / 255).permute(2, 0, 1)[None].to(dtype)


def _noisy_uint8(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, clean.shape)
    return np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)


@pytest.fixture
def high_psnr_pair() -> tuple[np.ndarray, np.ndarray]:
    """(output, clean): a real photo and a copy with small noise, about 40 dB on Y."""
    clean = skimage_data.astronaut()[:128, :160]
    return _noisy_uint8(clean, 4.5), clean


# --------------------------------------------------------------------------- table
def test_table_names_fields_and_immutability():
    canonical = ["basicsr-y", "mprnet-y", "prenet-y", "rgb", "spanet-rgb"]
    assert sorted(CONVENTIONS) == sorted([*canonical, "matlab-y", "matlab-y-uint8"])
    assert dict(CONVENTION_ALIASES) == {"matlab-y": "prenet-y", "matlab-y-uint8": "mprnet-y"}
    for name, conv in CONVENTIONS.items():
        assert isinstance(conv, ScoringConvention)
        assert conv.name == CONVENTION_ALIASES.get(name, name)
        assert conv.reproduces and conv.formula
        if conv.name != "spanet-rgb":
            assert (conv.window_size, conv.sigma, conv.k1, conv.k2) == (11, 1.5, 0.01, 0.03)
            assert conv.ssim_window == "gaussian" and not conv.sample_covariance
    assert CONVENTIONS["matlab-y"] is CONVENTIONS["prenet-y"]
    assert CONVENTIONS["mprnet-y"].round_y and not CONVENTIONS["prenet-y"].round_y
    assert CONVENTIONS["prenet-y"].ssim_downsample
    assert not any(CONVENTIONS[n].ssim_downsample for n in canonical if n != "prenet-y")
    assert CONVENTIONS["basicsr-y"].crop_border is None
    assert CONVENTIONS["prenet-y"].pipeline_quantize == "floor"
    spa = CONVENTIONS["spanet-rgb"]
    assert (spa.window_size, spa.ssim_window, spa.sample_covariance, spa.ssim_range_factor,
            spa.y_channel, spa.pipeline_quantize) == (7, "uniform", True, 2.0, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONVENTIONS["rgb"].y_channel = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        CONVENTIONS["mine"] = CONVENTIONS["rgb"]  # type: ignore[index]


# --------------------------------------------------------------------------- real pairs
def test_matlab_y_uint8_matches_mprnet_script_on_rain_pairs(rain_pairs):
    for rainy, clean in rain_pairs:
        ref_psnr, ref_ssim = mprnet_script(rainy, clean)
        assert psnr(rainy, clean, convention="matlab-y-uint8") == pytest.approx(ref_psnr,
                                                                                abs=1e-10)
        assert ssim(rainy, clean, convention="matlab-y-uint8") == pytest.approx(ref_ssim,
                                                                                abs=1e-12)
        # the same images as float tensors in [0, 1] (as a data loader gives them)
        for dtype, tol_p, tol_s in ((torch.float64, 1e-10, 1e-12), (torch.float32, 1e-4, 1e-5)):
            x, y = _to_tensor(rainy, dtype), _to_tensor(clean, dtype)
            got = score(x, y, "matlab-y-uint8")
            assert got["psnr"].dtype == dtype and got["psnr"].shape == (1,)
            assert got["psnr"].item() == pytest.approx(ref_psnr, abs=tol_p)
            assert got["ssim"].item() == pytest.approx(ref_ssim, abs=tol_s)


def test_matlab_y_matches_prenet_script_on_rain_pairs(rain_pairs):
    for rainy, clean in rain_pairs:
        ref_psnr, ref_ssim = prenet_script(rainy, clean)
        got = score(rainy, clean, "matlab-y")
        assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-10)
        assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
        as_float = score(rainy / 255.0, clean / 255.0, "matlab-y")  # float64 arrays
        assert as_float["psnr"] == pytest.approx(ref_psnr, abs=1e-10)
        assert as_float["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
        x, y = _to_tensor(rainy, torch.float32), _to_tensor(clean, torch.float32)
        assert psnr(x, y, convention="matlab-y").item() == pytest.approx(ref_psnr, abs=1e-4)
        assert ssim(x, y, convention="matlab-y").item() == pytest.approx(ref_ssim, abs=1e-5)


@pytest.mark.parametrize("crop_border", [0, 4])
def test_basicsr_y_matches_basicsr_on_rain_pairs(rain_pairs, crop_border):
    for rainy, clean in rain_pairs:
        ref_psnr, ref_ssim = basicsr_script(rainy, clean, crop_border)
        got = score(rainy, clean, "basicsr-y", crop_border=crop_border)
        # BasicSR computes Y in float32, rainkit in float64: agreement to float32 precision
        assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-5)
        assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-7)


def test_rgb_matches_skimage_on_rain_pairs(rain_pairs):
    for rainy, clean in rain_pairs:
        got = score(rainy, clean, "rgb")
        assert got["psnr"] == pytest.approx(
            skimage_metrics.peak_signal_noise_ratio(clean, rainy), abs=1e-10)
        assert got["ssim"] == pytest.approx(
            skimage_metrics.structural_similarity(
                rainy, clean, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False, data_range=255), abs=1e-10)


# --------------------------------------------------------------------------- ~40 dB
def test_high_psnr_pair_rounding_gap(high_psnr_pair):
    output, clean = high_psnr_pair
    ref_uint8 = mprnet_script(output, clean)
    ref_double = prenet_script(output, clean)
    assert 38.0 < ref_uint8[0] < 43.0  # the regime of Rain100L results
    got_uint8 = score(output, clean, "matlab-y-uint8")
    got_double = score(output, clean, "matlab-y")
    assert got_uint8["psnr"] == pytest.approx(ref_uint8[0], abs=1e-10)
    assert got_uint8["ssim"] == pytest.approx(ref_uint8[1], abs=1e-12)
    assert got_double["psnr"] == pytest.approx(ref_double[0], abs=1e-10)
    assert got_double["ssim"] == pytest.approx(ref_double[1], abs=1e-12)
    # Rounding Y adds about 2 / 12 to the MSE on the 0-255 scale: a visible gap at 40 dB.
    assert 0.05 < got_double["psnr"] - got_uint8["psnr"] < 0.3


def test_quantize_reproduces_the_test_scripts(high_psnr_pair):
    _, clean = high_psnr_pair
    rng = np.random.default_rng(3)
    # a network output: floating, off the 8-bit grid, slightly outside [0, 1] in places
    out = clean / 255.0 + rng.normal(0.0, 2.0 / 255, clean.shape)
    clamped = np.clip(out, 0.0, 1.0)
    # MPRNet / Restormer test.py: img_as_ubyte(clamp(out, 0, 1)), then evaluate_PSNR_SSIM.m
    saved = skimage_util.img_as_ubyte(clamped)
    ref = mprnet_script(saved, clean)
    x, y = _to_tensor(clean, torch.float64), torch.from_numpy(out).permute(2, 0, 1)[None]
    got = score(y, x, "matlab-y-uint8", quantize="round")
    assert got["psnr"].item() == pytest.approx(ref[0], abs=1e-10)
    assert got["ssim"].item() == pytest.approx(ref[1], abs=1e-12)
    # PReNet test_PReNet.py: np.uint8(255 * clamp(out, 0, 1)) (truncation), then statistic
    saved = np.uint8(255 * clamped)
    ref = prenet_script(saved, clean)
    got = score(out, clean / 255.0, "matlab-y", quantize="floor")
    assert got["psnr"] == pytest.approx(ref[0], abs=1e-10)
    assert got["ssim"] == pytest.approx(ref[1], abs=1e-12)
    # truncation loses half a level on average, which costs PSNR against rounding
    assert got["psnr"] < score(out, clean / 255.0, "matlab-y", quantize="round")["psnr"] - 0.1
    # quantize only touches the input, and is a no-op for data already on the 8-bit grid
    assert psnr(clean, clean, quantize="floor") == math.inf


def test_round_half_away_from_zero_hand_value():
    # RGB (6, 34, 182): Y = 16 + (65.481*6 + 128.553*34 + 24.966*182) / 255 = 52.5 exactly,
    # which MATLAB's uint8 conversion rounds to 53 (numpy's half-to-even would give 52).
    # Against black (Y = 16) every pixel differs by 37: PSNR = 20 log10(255 / 37).
    tie = np.broadcast_to(np.array([6, 34, 182], np.uint8), (12, 12, 3)).copy()
    black = np.zeros_like(tie)
    assert psnr(tie, black, convention="matlab-y-uint8") == pytest.approx(
        20 * math.log10(255 / 37), abs=1e-12)
    assert psnr(tie, black, convention="matlab-y") == pytest.approx(
        20 * math.log10(255 / 36.5), abs=1e-9)


# --------------------------------------------------------------------------- API
def test_convention_matches_explicit_options_and_modules():
    x = torch.rand(2, 3, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.rand(2, 3, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    # "matlab-y" is the unrounded Y that y_channel=True always computed; "rgb" the default
    assert torch.equal(psnr(x, y, convention="matlab-y", reduction="none"),
                       psnr(x, y, y_channel=True, reduction="none"))
    assert torch.equal(ssim(x, y, convention="rgb"), ssim(x, y))
    # options that agree with the convention are accepted
    assert torch.equal(psnr(x, y, convention="matlab-y", y_channel=True, crop_border=0),
                       psnr(x, y, convention="matlab-y"))
    module = SSIM(convention="basicsr-y", crop_border=2, reduction="none")
    assert torch.equal(module(x, y), ssim(x, y, convention="basicsr-y", crop_border=2,
                                          reduction="none"))
    assert "convention='basicsr-y'" in repr(module)
    metric = PSNR(convention=CONVENTIONS["matlab-y-uint8"], quantize="round")
    assert torch.equal(metric(x, y), psnr(x, y, convention="matlab-y-uint8", quantize="round"))
    got = score(x, y, "matlab-y")
    assert set(got) == {"psnr", "ssim"} and got["ssim"].shape == (2,)
    assert torch.equal(got["ssim"], ssim(x, y, y_channel=True, reduction="none"))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"convention": "matlab"}, ValueError,
         "convention must be one of 'basicsr-y', 'matlab-y', 'matlab-y-uint8', 'mprnet-y', "
         "'prenet-y', 'rgb', 'spanet-rgb', got 'matlab'"),
        ({"convention": 3}, TypeError, "convention must be a str .* or a ScoringConvention, "
         "got int"),
        ({"convention": "matlab-y", "y_channel": False}, ValueError,
         "y_channel=False contradicts convention 'prenet-y', which scores the Y channel"),
        ({"convention": "rgb", "y_channel": True}, ValueError,
         "y_channel=True contradicts convention 'rgb', which scores the RGB channels"),
        ({"convention": "matlab-y-uint8", "crop_border": 4}, ValueError,
         r"crop_border=4 contradicts convention 'mprnet-y', which uses a fixed border "
         r"\(crop_border=0\)"),
        ({"convention": "matlab-y", "window_size": 7}, ValueError,
         "window_size=7 contradicts convention 'prenet-y', which fixes the SSIM settings"),
        ({"convention": "spanet-rgb", "window_size": 11}, ValueError,
         r"window_size=11 contradicts convention 'spanet-rgb'.*\(window_size=7\)"),
        ({"convention": "basicsr-y", "k2": 0.05}, ValueError,
         "k2=0.05 contradicts convention 'basicsr-y'"),
        ({"quantize": "ceil"}, ValueError,
         "quantize must be None or one of 'round', 'floor', got 'ceil'"),
    ],
)
def test_bad_conventions_and_conflicts(kwargs, error, match):
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    metric_kwargs = {k: v for k, v in kwargs.items() if k not in ("window_size", "k2")}
    if kwargs.get("convention") == "spanet-rgb":
        x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with pytest.raises(error, match=match):
        ssim(x, y, **kwargs)
    with pytest.raises(error, match=match):
        SSIM(**kwargs)
    if metric_kwargs == kwargs:  # PSNR has no window options
        with pytest.raises(error, match=match):
            psnr(x, y, **kwargs)
        with pytest.raises(error, match=match):
            PSNR(**kwargs)


def test_grayscale_with_y_convention_and_bad_score_convention():
    gray = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="convention 'prenet-y' \\(Y channel\\) expects 3 RGB"):
        psnr(gray, gray, convention="matlab-y")
    with pytest.raises(ValueError, match="convention must be one of"):
        score(gray, gray, "prenet")
    assert score(gray, gray + 1, "rgb")["psnr"] == pytest.approx(20 * math.log10(255))


def test_devices_and_half_precision(device, high_psnr_pair):
    output, clean = high_psnr_pair
    ref = mprnet_script(output, clean)
    x, y = _to_tensor(output, torch.float32), _to_tensor(clean, torch.float32)
    got = score(x.to(device), y.to(device), "matlab-y-uint8")
    assert got["psnr"].device.type == device.type
    assert got["psnr"].item() == pytest.approx(ref[0], abs=1e-4)
    assert got["ssim"].item() == pytest.approx(ref[1], abs=1e-5)
    # float16 images are scored in float32; the 8-bit values survive the cast exactly
    half = score(x.half().to(device), y.half().to(device), "matlab-y-uint8")
    assert half["psnr"].dtype == torch.float32
    assert half["psnr"].item() == pytest.approx(ref[0], abs=1e-3)


# --------------------------------------------------------------------------- automatic downsampling
# PReNet's statistic scripts call `ssim`, Wang's 2009 ssim.m "with automatic downsampling"
# (the copy the same author ships: csdwren/SelfDeblur statistic/ssim.m). Before the window:
#   f = max(1, round(min(M, N) / 256));           % MATLAB round: half away from zero
#   if f > 1: lpf = ones(f, f) / f^2;
#             img = imfilter(img, lpf, 'symmetric', 'same');   % correlation, centre floor((f+1)/2)
#             img = img(1:f:end, 1:f:end);
# then ssim_index's Gaussian 11 / 1.5, 'valid', K = [0.01 0.03], L = 255 on Y * 255.
def matlab_round(value: float) -> int:
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def imfilter_symmetric_same_mean(img: np.ndarray, f: int) -> np.ndarray:
    """imfilter(img, ones(f)/f^2, 'symmetric', 'same'), written out: correlation with the
    kernel centre at floor((f + 1) / 2) (1-based), borders mirrored with the edge repeated."""
    centre = (f + 1) // 2
    before, after = centre - 1, f - centre
    padded = np.pad(img, ((before, after), (before, after)), mode="symmetric")
    out = np.zeros_like(img, dtype=np.float64)
    for u in range(f):
        for v in range(f):
            out += padded[u:u + img.shape[0], v:v + img.shape[1]]
    return out / (f * f)


def wang_ssim_2009(img1: np.ndarray, img2: np.ndarray) -> tuple[float, int]:
    """Wang's ssim.m (2009) with its defaults; returns (mssim, f)."""
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)
    f = max(1, matlab_round(min(img1.shape) / 256))
    if f > 1:
        img1 = imfilter_symmetric_same_mean(img1, f)[::f, ::f]
        img2 = imfilter_symmetric_same_mean(img2, f)[::f, ::f]
    return ssim_index_2003(img1, img2), f


def ssim_index_2003(img1: np.ndarray, img2: np.ndarray, L: float = 255.0) -> float:
    """Wang's ssim_index.m (2003) at any size (no downsampling)."""
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)  # double(img)
    window = fspecial_gaussian()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2

    def filter2(a: np.ndarray) -> np.ndarray:
        return convolve2d(a, np.rot90(window, 2), mode="valid")

    mu1, mu2 = filter2(img1), filter2(img2)
    s11, s22 = filter2(img1 * img1) - mu1 * mu1, filter2(img2 * img2) - mu2 * mu2
    s12 = filter2(img1 * img2) - mu1 * mu2
    return float((((2 * mu1 * mu2 + c1) * (2 * s12 + c2))
                  / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))).mean())


def prenet_script_2009(output: np.ndarray, gt: np.ndarray) -> tuple[float, float, int]:
    """PReNet's statistic script with Wang's 2009 ssim.m, on two uint8 RGB images."""
    x = matlab_rgb2ycbcr_y(output.astype(np.float64) / 255)
    x_true = matlab_rgb2ycbcr_y(gt.astype(np.float64) / 255)
    tp = 10 * math.log10(1.0 / np.mean((x - x_true) ** 2))
    ts, f = wang_ssim_2009(x * 255, x_true * 255)
    return tp, ts, f


def _smooth_pair(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(output, clean) uint8 RGB: smooth random structure, and a noisy copy."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    clean = ndimage.uniform_filter(rng.random((height, width, 3)) * 255, size=(7, 7, 1))
    clean = np.clip(np.round(clean * 3 - 255), 0, 255).astype(np.uint8)  # stretch contrast
    return _noisy_uint8(clean, 10.0, seed + 1), clean


@pytest.mark.parametrize(("height", "width", "f"),
                         [(37, 45, 1), (383, 390, 1), (385, 391, 2), (390, 387, 2),
                          (641, 647, 3), (897, 901, 4)])
def test_prenet_y_reproduces_wang_2009_downsampling(height, width, f):
    output, clean = _smooth_pair(height, width, seed=height)
    ref_psnr, ref_ssim, ref_f = prenet_script_2009(output, clean)
    assert ref_f == f
    # 8-bit arrays (float64 inside), float64 arrays in [0, 1], float32 tensors
    got = score(output, clean, "prenet-y")
    assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-10)
    assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
    as_float = score(output / 255.0, clean / 255.0, "matlab-y")  # the old name: same convention
    assert as_float["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
    x, y = _to_tensor(output, torch.float32), _to_tensor(clean, torch.float32)
    assert ssim(x, y, convention="prenet-y").item() == pytest.approx(ref_ssim, abs=2e-5)
    # float32 output against a float64 reference: computed in float64
    mixed = ssim(x, _to_tensor(clean, torch.float64), convention="prenet-y")
    # (x holds float32 roundings of k / 255: 1e-8 apart from the float64 values)
    assert mixed.dtype == torch.float64 and mixed.item() == pytest.approx(ref_ssim, abs=1e-7)
    if f > 1:  # the step matters: without it the script's number is not reproduced
        assert abs(ssim_index_2003(matlab_rgb2ycbcr_y(output / 255) * 255,
                                   matlab_rgb2ycbcr_y(clean / 255) * 255) - ref_ssim) > 1e-3


def test_auto_downsample_factor_rounds_half_away_from_zero():
    from rainkit.metrics import auto_downsample_factor

    for side in (1, 11, 127, 128, 383, 384, 385, 639, 640, 895, 896, 1151, 1152, 4000):
        assert auto_downsample_factor(side, side + 7) == max(1, matlab_round(side / 256))
    assert auto_downsample_factor(2000, 384) == 2  # the short side counts
    assert auto_downsample_factor(np.int64(384), 400) == 2  # numpy integers are ints


@pytest.mark.parametrize(
    ("height", "width", "error", "match"),
    [
        (-1, 256, ValueError, "height must be >= 1, got -1"),
        (0, 256, ValueError, "height must be >= 1, got 0"),
        (256, 0, ValueError, "width must be >= 1, got 0"),
        (1.5, 256, TypeError, "height must be an int, got float"),
        ("256", 256, TypeError, "height must be an int, got str"),
        (None, 256, TypeError, "height must be an int, got NoneType"),
        (True, 256, TypeError, "height must be an int, got bool"),
        (256, math.nan, TypeError, "width must be an int, got float"),
    ],
)
def test_auto_downsample_factor_bad_sides(height, width, error, match):
    from rainkit.metrics import auto_downsample_factor

    with pytest.raises(error, match=match):
        auto_downsample_factor(height, width)


def test_mprnet_y_never_downsamples():
    output, clean = _smooth_pair(385, 389, seed=5)  # f would be 2 under ssim.m
    y1, y2 = matlab_rgb2ycbcr_y(output), matlab_rgb2ycbcr_y(clean)
    assert ssim(output, clean, convention="mprnet-y") == pytest.approx(
        ssim_index_2003(y1, y2), abs=1e-12)
    assert ssim(output, clean, convention="matlab-y-uint8") == ssim(output, clean,
                                                                    convention="mprnet-y")


def test_prenet_y_on_rain_dev_512x384_pairs():
    root = RAIN_DEV_VAL
    if not (root / "clean").is_dir():
        pytest.skip(f"{root} not present")
    from PIL import Image

    checked = 0
    for clean_path in sorted((root / "clean").glob("*.png")):
        clean = np.asarray(Image.open(clean_path).convert("RGB"))
        if min(clean.shape[:2]) < 384:
            continue
        rainy = np.asarray(Image.open(root / "rainy" / clean_path.name).convert("RGB"))
        ref_psnr, ref_ssim, f = prenet_script_2009(rainy, clean)
        assert f == 2
        got = score(rainy, clean, "prenet-y")
        assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-10)
        assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
        checked += 1
    if checked == 0:
        pytest.skip("no pair of 384 pixels or more on its short side")


# --------------------------------------------------------------------------- SPA-Data (SPANet)
# SPANet main.py run_test: pred = clip(out, 0, 1), B = clip(gt, 0, 1), both float32 HxWx3;
# skimage.measure.compare_ssim(pred, B, multichannel=True) and compare_psnr(pred, B) of
# scikit-image 0.14: win_size 7, uniform_filter, use_sample_covariance (NP / (NP - 1)),
# K1 0.01, K2 0.03, data_range = dtype_range[float32] = 1 - (-1) = 2, the map cropped by
# (7 - 1) // 2 = 3 and averaged, per channel then over channels, in float64; compare_psnr:
# data_range = dmax = 1 (true_min >= 0), mse of float32 differences averaged in float64.
def spanet_compare_ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    from scipy.ndimage import uniform_filter

    values = []
    for c in range(pred.shape[-1]):
        x, y = pred[..., c].astype(np.float64), gt[..., c].astype(np.float64)
        win, count = 7, 49
        cov_norm = count / (count - 1)
        ux, uy = uniform_filter(x, win), uniform_filter(y, win)
        vx = cov_norm * (uniform_filter(x * x, win) - ux * ux)
        vy = cov_norm * (uniform_filter(y * y, win) - uy * uy)
        vxy = cov_norm * (uniform_filter(x * y, win) - ux * uy)
        c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        values.append(s[3:-3, 3:-3].mean())
    return float(np.mean(values))


def spanet_compare_psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    mse = np.mean(np.square(gt - pred), dtype=np.float64)
    return 10 * math.log10(1.0 / mse)


@pytest.mark.parametrize(("height", "width"), [(33, 41), (96, 129)])
def test_spanet_rgb_matches_spanet_main(height, width):
    rng = np.random.default_rng(height)
    gt = rng.random((height, width, 3)).astype(np.float32)
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1).astype(np.float32)
    ref_ssim, ref_psnr = spanet_compare_ssim(pred, gt), spanet_compare_psnr(pred, gt)
    got = score(pred, gt, "spanet-rgb")
    assert got["ssim"] == pytest.approx(ref_ssim, abs=1e-12)
    assert got["psnr"] == pytest.approx(ref_psnr, abs=1e-6)  # float32 differences there
    # today's scikit-image with the old defaults spelled out agrees
    assert got["ssim"] == pytest.approx(skimage_metrics.structural_similarity(
        pred, gt, win_size=7, data_range=2, channel_axis=-1), abs=1e-6)
    tensors = score(torch.from_numpy(pred).permute(2, 0, 1), torch.from_numpy(gt).permute(2, 0, 1),
                    "spanet-rgb")
    assert tensors["ssim"].item() == pytest.approx(ref_ssim, abs=1e-5)
    # differs from the "rgb" convention (Gaussian 11, population moments, L = 1)
    assert abs(score(pred, gt, "rgb")["ssim"] - ref_ssim) > 1e-4

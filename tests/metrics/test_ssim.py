"""SSIM: scikit-image agreement on real photos, properties, gradients and bad input."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rainkit.metrics import SSIM, ssim

skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_color = pytest.importorskip("skimage.color")


def _reference(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    # Independent reference: scikit-image with the settings of Wang et al. (2004).
    return skimage_metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range, channel_axis=-1 if a.ndim == 3 else None,
    )


def _to_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).to(dtype)


def test_matches_skimage_rgb_numpy(photo_pair):
    distorted, clean = photo_pair
    expected = _reference(distorted, clean, 1.0)
    assert 0.1 < expected < 0.99  # a real, non-trivial comparison
    assert abs(ssim(distorted, clean) - expected) < 1e-10


def test_matches_skimage_y_numpy(photo_pair):
    distorted, clean = photo_pair
    # skimage's rgb2ycbcr gives BT.601 Y on the 0-255 scale; SSIM then uses data_range 255.
    y_d = skimage_color.rgb2ycbcr(distorted)[..., 0]
    y_c = skimage_color.rgb2ycbcr(clean)[..., 0]
    expected = _reference(y_d, y_c, 255.0)
    assert abs(ssim(distorted, clean, y_channel=True) - expected) < 1e-10


@pytest.mark.parametrize("y_channel", [False, True])
def test_matches_skimage_torch(photo_pair, y_channel):
    distorted, clean = photo_pair
    if y_channel:
        ref_d = skimage_color.rgb2ycbcr(distorted)[..., 0]
        ref_c = skimage_color.rgb2ycbcr(clean)[..., 0]
        expected = _reference(ref_d, ref_c, 255.0)
    else:
        expected = _reference(distorted, clean, 1.0)
    for dtype, tol in [(torch.float64, 1e-10), (torch.float32, 1e-5)]:
        x = torch.stack([_to_tensor(distorted, dtype), _to_tensor(clean, dtype)])
        y = torch.stack([_to_tensor(clean, dtype), _to_tensor(clean, dtype)])
        out = ssim(x, y, y_channel=y_channel, reduction="none")
        assert out.dtype == dtype
        assert abs(out[0].item() - expected) < tol
        assert out[1].item() == pytest.approx(1.0, abs=tol)


def test_uint8_and_crop_border_match_skimage(photo):
    a = (photo * 255).round().astype(np.uint8)
    b = np.clip(a.astype(np.int16) + 7 * (np.arange(a.size).reshape(a.shape) % 3) - 7, 0, 255)
    b = b.astype(np.uint8)
    expected = _reference(a[4:-4, 4:-4].astype(np.float64), b[4:-4, 4:-4].astype(np.float64),
                          255.0)
    assert abs(ssim(a, b, crop_border=4) - expected) < 1e-10
    # An explicit data_range wins over the dtype's.
    expected_100 = _reference(a.astype(np.float64), b.astype(np.float64), 100.0)
    assert abs(ssim(a, b, data_range=100) - expected_100) < 1e-10


def test_grayscale_numpy_and_uint16():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    b = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    expected = _reference(a.astype(np.float64), b.astype(np.float64), 65535.0)
    out = ssim(a, b)
    assert isinstance(out, float)
    assert abs(out - expected) < 1e-10
    none = ssim(a, b, reduction="none")
    assert isinstance(none, np.ndarray) and none.shape == (1,)


def test_rainy_vs_clean_matches_skimage(rain_pairs):
    for rainy, clean in rain_pairs:
        expected = _reference(rainy.astype(np.float64), clean.astype(np.float64), 255.0)
        assert abs(ssim(rainy, clean) - expected) < 1e-10
        got = ssim(_to_tensor(rainy, torch.float32) / 255, _to_tensor(clean, torch.float32) / 255)
        assert abs(got.item() - expected) < 1e-5


def test_half_precision_computed_in_float32(photo):
    distorted, clean = np.clip(photo + 0.1 * np.sin(photo * 40), 0, 1), photo
    x = _to_tensor(distorted, torch.bfloat16)
    y = _to_tensor(clean, torch.bfloat16)
    out = ssim(x, y)
    assert out.dtype == torch.float32
    # Same numbers as float32 on the bf16-rounded values.
    assert out.item() == pytest.approx(ssim(x.float(), y.float()).item(), abs=1e-6)


def test_identical_is_one_and_module_equals_function(device):
    x = torch.rand(3, 3, 20, 24, device=device)
    assert torch.equal(ssim(x, x, reduction="none"), torch.ones(3, device=device))
    y = torch.rand(3, 3, 20, 24, device=device)
    module = SSIM(window_size=7, sigma=1.0, y_channel=True, crop_border=1, reduction="none")
    expected = ssim(x, y, window_size=7, sigma=1.0, y_channel=True, crop_border=1,
                    reduction="none")
    assert torch.equal(module(x, y), expected)
    assert "window_size=7" in repr(module)


def test_reductions_and_three_dim_input():
    x, y = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    per_image = ssim(x, y, reduction="none")
    assert per_image.shape == (4,)
    torch.testing.assert_close(ssim(x, y), per_image.mean())
    torch.testing.assert_close(ssim(x, y, reduction="sum"), per_image.sum())
    torch.testing.assert_close(ssim(x[1], y[1], reduction="none"), per_image[1:2])


def test_gradcheck_float64():
    x = torch.rand(2, 1, 7, 8, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 1, 7, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: ssim(a, b, window_size=5, reduction="none"), (x, y)
    )
    # Only one side requiring a gradient (the usual loss), other options, float64 throughout.
    target = y.detach()
    assert torch.autograd.gradcheck(
        lambda a: ssim(a, target, window_size=3, sigma=0.8, k2=0.1, data_range=2.0), (x,)
    )
    assert torch.autograd.gradcheck(
        lambda b: ssim(target, b, y_channel=False, crop_border=1, window_size=3), (y,)
    )


_images = st.integers(0, 2**31 - 1).map(
    lambda seed: torch.rand(3, 2, 13, 14, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
)


@settings(max_examples=15, deadline=None)
@given(a=_images, b=_images)
def test_properties(a, b):
    ab = ssim(a, b, reduction="none")
    torch.testing.assert_close(ab, ssim(b, a, reduction="none"), rtol=0, atol=1e-12)
    assert bool(((ab >= -1) & (ab <= 1)).all())
    assert torch.equal(ssim(a, a, reduction="none"), torch.ones(3, dtype=a.dtype))
    perm = torch.tensor([2, 0, 1])
    torch.testing.assert_close(ssim(a[perm], b[perm], reduction="none"), ab[perm],
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(ssim(a[perm], b[perm]), ssim(a, b), rtol=0, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(a=_images)
def test_negatively_correlated_below_zero(a):
    # SSIM(x, 1 - x) has the structure term -1 at every window: the score is negative.
    assert bool((ssim(a, 1 - a, reduction="none") < 0).all())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window_size": 10}, ValueError, "window_size must be an odd"),
        ({"window_size": 0}, ValueError, "window_size must be >= 1"),
        ({"window_size": 11.0}, TypeError, "window_size must be an int"),
        ({"sigma": 0}, ValueError, "sigma must be > 0"),
        ({"k1": -1}, ValueError, "k1 must be > 0"),
        ({"data_range": 0}, ValueError, "data_range must be > 0"),
        ({"data_range": "1"}, TypeError, "data_range must be a number"),
        ({"crop_border": -1}, ValueError, "crop_border must be >= 0"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of 'none', 'mean', 'sum', got"),
        ({"y_channel": 1}, TypeError, "y_channel must be a bool"),
    ],
)
def test_bad_options(kwargs, error, match):
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(error, match=match):
        ssim(x, x, **kwargs)
    with pytest.raises(error, match=match):
        SSIM(**kwargs)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "match"),
    [
        (torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17), {}, ValueError, "same shape"),
        (torch.rand(16, 16), torch.rand(16, 16), {}, ValueError, r"\(B, C, H, W\), got a 2-D"),
        (torch.rand(1, 1, 1, 16, 16), torch.rand(1, 1, 1, 16, 16), {}, ValueError, "5-D"),
        (torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), {"y_channel": True}, ValueError,
         "expects 3 RGB channels, got 1"),
        (torch.rand(1, 3, 10, 16), torch.rand(1, 3, 10, 16), {}, ValueError,
         "at least window_size=11 pixels on each side, got 10x16"),
        (torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), {"crop_border": 3}, ValueError,
         "after crop_border, got 10x10"),
        (torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), {"crop_border": 8}, ValueError,
         "crop_border must leave at least one pixel"),
        (torch.rand(1, 3, 16, 16), np.zeros((16, 16, 3)), {}, TypeError,
         "both torch.Tensor or both numpy.ndarray, got Tensor and ndarray"),
        ([[0.0]], [[0.0]], {}, TypeError, "got list and list"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.zeros(1, 3, 16, 16, dtype=torch.uint8),
         {}, TypeError, "floating-point tensor"),
        (np.zeros((16, 16), np.uint8), np.zeros((16, 16)), {}, TypeError,
         "same dtype \\(or both be floating\\), got uint8 and float64"),
        (np.zeros((16, 16), np.int32), np.zeros((16, 16), np.int32), {}, TypeError,
         "uint8, uint16 or float, got int32"),
        (np.zeros((16,)), np.zeros((16,)), {}, ValueError, r"\(H, W\) or \(H, W, C\), got a 1-D"),
        (np.zeros((16, 16)), np.zeros((16, 15)), {}, ValueError, "same shape"),
    ],
)
def test_bad_input(a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        ssim(a, b, **kwargs)


@pytest.mark.parametrize("strip_values", [1, 40, 1 << 18])
def test_strips_give_the_same_value_and_gradient(monkeypatch: pytest.MonkeyPatch,
                                                 strip_values: int) -> None:
    # The map is computed in strips of output rows; tiny strips (one row each, or a few) must
    # give the whole-image result, and gradients that add up correctly across strip overlaps.
    # rainkit.metrics.ssim is also the function's name, so fetch the module itself.
    ssim_module = importlib.import_module("rainkit.metrics._kernels")

    x = torch.rand(2, 2, 17, 13, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 2, 17, 13, dtype=torch.float64, requires_grad=True)
    whole = ssim(x.detach(), y.detach(), window_size=5, reduction="none")
    monkeypatch.setattr(ssim_module, "STRIP_VALUES", strip_values)
    assert len(ssim_module.row_strips(x, 5)) > 1 or strip_values == 1 << 18
    torch.testing.assert_close(ssim(x.detach(), y.detach(), window_size=5, reduction="none"),
                               whole, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda a, b: ssim(a, b, window_size=5, reduction="none"), (x, y))


def _value_and_grad(fn, x, y):
    value = fn(x, y)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def test_torch_compile_fullgraph_same_values_and_gradients():
    # Compiled graphs call the strips and the analytic backward as opaque operators
    # (rainkit::ssim); fullgraph: the checks and prepare() trace into the same graph. aot_eager
    # runs the traced forward and backward graphs without code generation (fast).
    x = torch.rand(2, 3, 20, 22, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 20, 22, dtype=torch.float64)
    for kwargs in [{}, {"window_size": 7, "y_channel": True, "crop_border": 1, "k2": 0.05}]:
        def fn(a, b, kwargs=kwargs):
            return ssim(a, b, reduction="none", **kwargs)

        eager = _value_and_grad(fn, x, y)
        compiled = _value_and_grad(torch.compile(fn, fullgraph=True, backend="aot_eager"), x, y)
        torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-12)
    module = SSIM(window_size=5, reduction="sum")
    compiled_module = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(_value_and_grad(compiled_module, x, y),
                               _value_and_grad(module, x, y), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_torch_compile_inductor_same_values_and_gradients():
    x = torch.rand(2, 3, 24, 24, requires_grad=True)
    y = torch.rand(2, 3, 24, 24)

    def fn(a, b):
        return ssim(a, b, reduction="none")

    eager = _value_and_grad(fn, x, y)
    compiled = _value_and_grad(torch.compile(fn), x, y)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-6)


# -- data_range, k1, k2 that the dtype cannot hold ------------------------------------------------

@pytest.mark.parametrize("option", [{"data_range": 1e30}, {"k1": 1e30}, {"k2": 1e30},
                                    {"k1": 1e-30}])
def test_constants_that_do_not_fit_float32_are_refused(option):
    # C1 = (k1 L)^2, C2 = (k2 L)^2: 1e56 and up overflow float32 (NaN SSIM before the check),
    # 1e-60 vanishes in it (0/0 on flat regions)
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    match = r"data_range=\S+, k1=\S+ and k2=\S+ do not fit SSIM's arithmetic in float32"
    with pytest.raises(ValueError, match=match):
        ssim(x, y, **option)
    metric = SSIM(**option)  # fits float64: a module refuses it when float32 images come
    with pytest.raises(ValueError, match=match):
        metric(x, y)


@pytest.mark.parametrize("option", [{"data_range": 1e200}, {"k1": 1e200}, {"k2": 1e160}])
def test_constants_beyond_float64_fail_at_construction(option):
    with pytest.raises(ValueError, match=r"data_range.*float64"):
        SSIM(**option)


def test_large_data_range_in_float64_matches_skimage_and_float32_holds_to_its_limit():
    rng = np.random.default_rng(3)
    a, b = rng.random((20, 20, 3)), rng.random((20, 20, 3))
    # SSIM is scale-invariant when data_range scales with the images: scikit-image on [0, 1]
    expected = _reference(a, b, 1.0)
    big = 1e10  # beyond float32's limit (about 2.4e9), well inside float64's
    x64, y64 = _to_tensor(a * big, torch.float64)[None], _to_tensor(b * big, torch.float64)[None]
    assert ssim(x64, y64, data_range=big).item() == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="float32"):
        ssim(x64.float(), y64.float(), data_range=big)
    # at float32's limit the value and the gradient (which forms B1 * B2) stay finite
    limit = 2.4e9
    x = (_to_tensor(a, torch.float32)[None] * limit).requires_grad_()
    y = _to_tensor(b, torch.float32)[None] * limit
    value = ssim(x, y, data_range=limit)
    value.backward()
    assert value.item() == pytest.approx(expected, abs=1e-4)
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())

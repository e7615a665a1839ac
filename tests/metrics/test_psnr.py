"""PSNR: scikit-image agreement, hand computations, per-image reduction, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rainkit.metrics import PSNR, psnr

skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_color = pytest.importorskip("skimage.color")


def test_hand_computation():
    # MSE = 0.1^2 = 0.01 on [0, 1] data: 10 log10(1 / 0.01) = 20 dB.
    x = torch.full((1, 3, 4, 4), 0.25, dtype=torch.float64)
    assert psnr(x + 0.1, x).item() == pytest.approx(20.0, abs=1e-12)
    # uint8, every pixel off by 1: 10 log10(255^2) = 48.1308... dB.
    a = np.zeros((4, 5, 3), np.uint8)
    assert psnr(a + 1, a) == pytest.approx(20 * math.log10(255), abs=1e-12)
    # uint16 uses 65535.
    b = np.zeros((4, 5), np.uint16)
    assert psnr(b + 1, b) == pytest.approx(20 * math.log10(65535), abs=1e-12)
    # An explicit data_range wins over the dtype's: peak 1 and error 1 -> 0 dB.
    assert psnr(a + 1, a, data_range=1.0) == pytest.approx(0.0, abs=1e-12)


def test_matches_skimage(photo_pair):
    distorted, clean = photo_pair
    # Independent reference: skimage.metrics.peak_signal_noise_ratio.
    expected = skimage_metrics.peak_signal_noise_ratio(clean, distorted, data_range=1.0)
    assert psnr(distorted, clean) == pytest.approx(expected, abs=1e-10)
    got = psnr(torch.from_numpy(distorted).permute(2, 0, 1).float(),
               torch.from_numpy(clean).permute(2, 0, 1).float())
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(expected, abs=1e-4)
    y_d = skimage_color.rgb2ycbcr(distorted)[4:-4, 4:-4, 0]
    y_c = skimage_color.rgb2ycbcr(clean)[4:-4, 4:-4, 0]
    expected_y = skimage_metrics.peak_signal_noise_ratio(y_c, y_d, data_range=255.0)
    assert psnr(distorted, clean, y_channel=True, crop_border=4) == pytest.approx(
        expected_y, abs=1e-10
    )


def test_mean_of_per_image_values_not_pooled_mse():
    x = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    y = torch.cat([torch.full((1, 1, 4, 4), 0.1), torch.full((1, 1, 4, 4), 0.01)]).double()
    per_image = psnr(x, y, reduction="none")
    torch.testing.assert_close(per_image, torch.tensor([20.0, 40.0], dtype=torch.float64))
    assert psnr(x, y).item() == pytest.approx(30.0)  # pooled MSE would give 22.97 dB
    assert psnr(x, y, reduction="sum").item() == pytest.approx(60.0)


def test_identical_is_inf_and_dtypes(device):
    x = torch.rand(2, 3, 8, 8, device=device)
    assert torch.isinf(psnr(x, x, reduction="none")).all()
    assert psnr(x.half(), (x + 0.1).half()).dtype == torch.float32
    assert psnr(x.double(), x.double() + 0.1).dtype == torch.float64
    a = np.zeros((3, 3))
    assert psnr(a, a) == math.inf


def test_module_equals_function():
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    module = PSNR(crop_border=2, y_channel=True, reduction="none")
    assert torch.equal(module(x, y), psnr(x, y, crop_border=2, y_channel=True, reduction="none"))
    assert "crop_border=2" in repr(module)


def test_gradcheck_float64():
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: psnr(a, b, y_channel=True, reduction="none"),
                                    (x, y))


_images = st.integers(0, 2**31 - 1).map(
    lambda seed: torch.rand(3, 3, 6, 7, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
)


@settings(max_examples=20, deadline=None)
@given(a=_images, b=_images)
def test_properties(a, b):
    ab = psnr(a, b, reduction="none")
    assert torch.equal(ab, psnr(b, a, reduction="none"))
    perm = torch.tensor([1, 2, 0])
    torch.testing.assert_close(psnr(a[perm], b[perm], reduction="none"), ab[perm])
    assert torch.isinf(psnr(a, a, reduction="none")).all()
    assert bool((ab > 0).all())  # values in [0, 1] differ by less than the peak


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "match"),
    [
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), {}, ValueError, "same shape"),
        (torch.rand(8), torch.rand(8), {}, ValueError, "got a 1-D tensor"),
        (torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8), {"y_channel": True}, ValueError,
         "expects 3 RGB channels, got 2"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"data_range": -1.0}, ValueError,
         "data_range must be > 0, got -1.0"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"crop_border": 4}, ValueError,
         "expected crop_border < 4 for a 8x8 image, got 4"),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"reduction": "avg"}, ValueError,
         "reduction must be one of"),
        (np.zeros((8, 8)), torch.zeros(8, 8), {}, TypeError, "got ndarray and Tensor"),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint16), {}, TypeError, "same dtype"),
        (np.zeros((8, 8), bool), np.zeros((8, 8), bool), {}, TypeError, "got bool"),
        ("a", "b", {}, TypeError, "got str and str"),
    ],
)
def test_bad_input(a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        psnr(a, b, **kwargs)


def test_bad_options_fail_at_construction():
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum'"):
        PSNR(reduction="avg")
    with pytest.raises(TypeError, match="crop_border must be an int, got float"):
        PSNR(crop_border=1.0)


def test_numpy_scalar_options_and_non_finite_ones():
    x = torch.full((1, 3, 4, 4), 0.5)
    expected = psnr(x, x + 0.1, data_range=1.0)
    torch.testing.assert_close(psnr(x, x + 0.1, data_range=np.float32(1.0)), expected)
    torch.testing.assert_close(psnr(x, x + 0.1, crop_border=np.int64(1)),
                               psnr(x, x + 0.1, crop_border=1))
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match="data_range must be a finite number"):
            PSNR(data_range=bad)
    with pytest.raises(TypeError, match="data_range must be a number, got bool"):
        psnr(x, x, data_range=True)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (1, 3, 0, 4), (1, 0, 4, 4)])
def test_empty_input_is_an_error_not_nan(shape):
    with pytest.raises(ValueError, match="input must not be empty"):
        psnr(torch.zeros(shape), torch.zeros(shape))


@pytest.mark.parametrize("shape", [(0, 4), (4, 0, 3), (4, 4, 0)])
def test_empty_numpy_input_is_an_error_not_nan(shape):
    with pytest.raises(ValueError, match=r"input must not be empty, got shape"):
        psnr(np.zeros(shape, np.float32), np.zeros(shape, np.float32))


def test_data_range_whose_square_overflows_the_dtype_is_refused():
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    # 1e30 ** 2 = 1e60 > float32's 3.4e38: refused, for the function and the module
    with pytest.raises(ValueError, match=r"data_range=1e\+30 is too large for float32 images"):
        psnr(x, y, data_range=1e30)
    with pytest.raises(ValueError, match="data_range"):
        PSNR(data_range=1e30)(x, y)
    assert torch.isfinite(psnr(x, y, data_range=1.8e19))  # just below sqrt(3.4e38)
    # float64 holds it: the value is the formula's, in Python floats (an independent sum)
    a, b = x.double().numpy(), y.double().numpy()
    mse = math.fsum(((a - b) ** 2).ravel().tolist()) / a.size
    expected = 10 * math.log10(1e60 / mse)
    assert psnr(x.double(), y.double(), data_range=1e30).item() == pytest.approx(expected,
                                                                                 rel=1e-12)
    with pytest.raises(ValueError, match="too large for float64"):
        PSNR(data_range=1e200)  # beyond every dtype: at construction

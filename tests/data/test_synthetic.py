"""synthesize_rain, line_kernel and SyntheticRainDataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rainkit.data import SyntheticRainDataset, line_kernel, synthesize_rain


def test_line_kernel_vertical_and_horizontal() -> None:
    vertical = line_kernel(7, 0.0, 1.0)
    horizontal = line_kernel(7, 90.0, 1.0)
    c = vertical.shape[0] // 2
    # on the segment the distance is 0, so the value is exp(0) = 1
    np.testing.assert_allclose(vertical[c - 3:c + 4, c], 1.0)
    np.testing.assert_allclose(horizontal[c, c - 3:c + 4], 1.0, atol=1e-6)
    # one pixel off the line with sigma = width / 2 = 0.5: exp(-0.5 * (1 / 0.5)^2) = exp(-2)
    assert vertical[c, c + 1] == pytest.approx(math.exp(-2.0), rel=1e-6)
    np.testing.assert_allclose(vertical.T, horizontal, atol=1e-6)


def test_line_kernel_diagonal_points() -> None:
    kernel = line_kernel(8, 45.0, 1.0)
    c = kernel.shape[0] // 2
    # 45 degrees leaning right from the vertical, image rows go down: (dy, dx) = (1, 1) / sqrt(2)
    for step in (1, 2):
        assert kernel[c + step, c + step] == pytest.approx(1.0)
        assert kernel[c - step, c - step] == pytest.approx(1.0)
    assert kernel[c + 2, c - 2] < 1e-3


def test_single_drop_becomes_streak_along_angle() -> None:
    image = torch.zeros(3, 41, 41)
    _rainy, rain = synthesize_rain(image, density=1e-9, seed=0)
    assert rain.max() == 0  # no drops at all
    # independent construction: one drop through the same kernel, by scipy
    from scipy.ndimage import convolve

    kernel = line_kernel(11, 30.0, 1.0)
    drop = np.zeros((41, 41))
    drop[20, 20] = 1.0
    streak = convolve(drop, kernel, mode="constant")
    ys, xs = np.nonzero(streak > 0.5)
    slope = np.polyfit(ys - 20.0, xs - 20.0, 1)[0]
    assert slope == pytest.approx(math.tan(math.radians(30.0)), abs=0.1)


def test_screen_blend_formula() -> None:
    torch.manual_seed(1)
    clean = torch.rand(2, 3, 24, 24)
    rainy, rain = synthesize_rain(clean, density=0.02, length=9, angle=-20, seed=3)
    assert rainy.shape == rain.shape == clean.shape
    assert torch.allclose(rainy, 1 - (1 - clean) * (1 - rain), atol=1e-6)
    assert bool((rain >= 0).all() and (rain <= 1).all())
    # white rain: every channel sees the same streaks
    assert torch.equal(rain[:, 0], rain[:, 1]) and torch.equal(rain[:, 1], rain[:, 2])


def test_rain_layer_matches_independent_pipeline() -> None:
    """Rebuild the layer with scipy from the same drops (the documented formula)."""
    from scipy.ndimage import convolve

    h = w = 30
    seed, density, brightness, blur = 5, 0.01, 0.7, 0.0
    rng = np.random.default_rng(seed)
    drops = (rng.random((1, 1, h, w)) < density) * rng.uniform(0.5, 1.0, size=(1, 1, h, w))
    kernel = line_kernel(9, 15.0, 1.5)
    expected = np.clip(brightness * convolve(drops[0, 0], kernel[::-1, ::-1], mode="constant"),
                       0, 1)
    _, rain = synthesize_rain(torch.zeros(3, h, w), density=density, length=9, angle=15.0,
                              width=1.5, brightness=brightness, blur=blur, seed=seed)
    np.testing.assert_allclose(rain[0].numpy(), expected, atol=1e-5)


def test_reproducible_from_seed_and_varies_with_seed() -> None:
    clean = torch.rand(3, 32, 32)
    a = synthesize_rain(clean, seed=7)[0]
    assert torch.equal(a, synthesize_rain(clean, seed=7)[0])
    assert not torch.equal(a, synthesize_rain(clean, seed=8)[0])


def test_dtype_and_batch_preserved() -> None:
    clean = torch.rand(3, 16, 16, dtype=torch.float64)
    rainy, rain = synthesize_rain(clean, seed=0)
    assert rainy.dtype == rain.dtype == torch.float64 and rainy.shape == (3, 16, 16)


@settings(max_examples=10, deadline=None)
@given(density=st.floats(0.0, 0.1), brightness=st.floats(0.0, 2.0), blur=st.floats(0.0, 2.0),
       angle=st.floats(-80, 80))
def test_rainy_never_darker_and_in_range(density: float, brightness: float, blur: float,
                                         angle: float) -> None:
    clean = torch.linspace(0, 1, 3 * 20 * 20).view(3, 20, 20)
    rainy, rain = synthesize_rain(clean, density=density, brightness=brightness, blur=blur,
                                  angle=angle, seed=0)
    assert bool((rainy >= clean - 1e-6).all() and (rainy <= 1 + 1e-6).all())
    assert bool((rain >= 0).all() and (rain <= 1).all())


def test_more_density_more_rain() -> None:
    clean = torch.zeros(3, 64, 64)
    light = synthesize_rain(clean, density=0.002, seed=0)[1].mean()
    heavy = synthesize_rain(clean, density=0.02, seed=0)[1].mean()
    assert heavy > 2 * light > 0


def test_bad_arguments() -> None:
    image = torch.rand(3, 8, 8)
    with pytest.raises(TypeError, match="image"):
        synthesize_rain(np.zeros((3, 8, 8)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels"):
        synthesize_rain(torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="density"):
        synthesize_rain(image, density=1.5)
    with pytest.raises(ValueError, match="length"):
        synthesize_rain(image, length=0)
    with pytest.raises(ValueError, match="width"):
        synthesize_rain(image, width=-1)
    with pytest.raises(TypeError, match="angle"):
        synthesize_rain(image, angle="left")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        synthesize_rain(image, seed=-1)


def test_dataset_reproducible_and_epoch_dependent() -> None:
    images = [torch.rand(3, 40, 50), torch.rand(3, 30, 30)]
    a = SyntheticRainDataset(images, patch_size=16, samples_per_image=3, augment=True, seed=4)
    b = SyntheticRainDataset(images, patch_size=16, samples_per_image=3, augment=True, seed=4)
    assert len(a) == 6
    for index in (5, 0, 3):  # any order gives the same items
        ra, ca, na = a[index]
        rb, cb, nb = b[index]
        assert torch.equal(ra, rb) and torch.equal(ca, cb) and na == nb
        assert ra.shape == (3, 16, 16) and bool((ra >= ca - 1e-6).all())
    first = a[0][0]
    a.set_epoch(1)
    assert not torch.equal(first, a[0][0])
    assert a[1][2] == "1-0" and a[2][2] == "0-1"
    with pytest.raises(IndexError):
        a[6]


def test_dataset_whole_images_and_small_patch_padding() -> None:
    dataset = SyntheticRainDataset([torch.rand(3, 10, 12)], patch_size=None, density=0.01)
    rainy, clean, _ = dataset[0]
    assert rainy.shape == clean.shape == (3, 10, 12)
    padded = SyntheticRainDataset([torch.rand(3, 6, 6)], patch_size=10)[0][1]
    assert padded.shape == (3, 10, 10)
    # reflect padding, compared with torch's own reflect pad of the bottom/right
    source = torch.arange(36.0).view(1, 1, 6, 6)
    expected = F.pad(source, (0, 4, 0, 4), mode="reflect")
    from rainkit.data import pad_to_size

    assert torch.equal(pad_to_size(source[0], 10), expected[0])


def test_dataset_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        SyntheticRainDataset([])
    with pytest.raises(ValueError, match="channels"):
        SyntheticRainDataset([torch.rand(1, 8, 8)])
    with pytest.raises(ValueError, match="low <= high"):
        SyntheticRainDataset([torch.rand(3, 8, 8)], density=(0.5, 0.1))
    with pytest.raises(TypeError, match="length"):
        SyntheticRainDataset([torch.rand(3, 8, 8)], length="long")  # type: ignore[arg-type]


def test_dataset_options_checked_at_construction() -> None:
    """Issue 14: these were accepted and failed mid-training."""
    images = [torch.rand(3, 8, 8)]
    with pytest.raises(ValueError, match="length low must be > 0.0, got -1"):
        SyntheticRainDataset(images, length=(-1, 10))
    with pytest.raises(ValueError, match="density high must be <= 1.0, got 2.0"):
        SyntheticRainDataset(images, density=(0.5, 2.0))
    with pytest.raises(TypeError, match="augment must be a bool, got str 'yes'"):
        SyntheticRainDataset(images, augment="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width must be > 0.0, got 0"):
        SyntheticRainDataset(images, width=0)
    with pytest.raises(ValueError, match="brightness low must be >= 0.0"):
        SyntheticRainDataset(images, brightness=(-0.1, 1.0))
    with pytest.raises(ValueError, match="blur must be >= 0.0"):
        SyntheticRainDataset(images, blur=-1.0)
    with pytest.raises(ValueError, match="angle high must be a finite number, got inf"):
        SyntheticRainDataset(images, angle=(0.0, float("inf")))
    with pytest.raises(ValueError, match="density must be a finite number, got nan"):
        SyntheticRainDataset(images, density=float("nan"))
    with pytest.raises(ValueError, match="3 values"):
        SyntheticRainDataset(images, length=(1, 2, 3))
    with pytest.raises(TypeError, match="width low must be a real number, got str"):
        SyntheticRainDataset(images, width=("1", 2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"density must be a number or a \(low, high\) pair"):
        SyntheticRainDataset(images, density=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clean_images must be a sequence"):
        SyntheticRainDataset(5)  # type: ignore[arg-type]


def test_dataset_accepts_numpy_numbers() -> None:
    dataset = SyntheticRainDataset(
        [torch.rand(3, 12, 12)], patch_size=8, density=np.float32(0.01),
        length=(np.float64(5), np.int64(9)), angle=np.array([-5.0, 5.0]), width=np.float32(1),
    )
    assert dataset.ranges["density"] == (pytest.approx(0.01), pytest.approx(0.01))
    assert dataset.ranges["length"] == (5.0, 9.0) and dataset.ranges["angle"] == (-5.0, 5.0)
    assert dataset[0][0].shape == (3, 8, 8)
    rainy, _ = synthesize_rain(torch.zeros(3, 8, 8), density=np.float32(0.5),
                               length=np.int64(3), angle=np.float32(0), seed=0)
    assert rainy.max() > 0
    with pytest.raises(ValueError, match="length must be a finite number"):
        synthesize_rain(torch.zeros(3, 8, 8), length=float("inf"))
    with pytest.raises(ValueError, match="angle must be a finite number"):
        line_kernel(5, float("nan"))


# ------------------------------------------------------------------ bad input (issue 23)
@pytest.mark.parametrize(("image", "match"), [
    (torch.rand(3, 8, 8) * 255, "looks like a 0..255 image: divide it by 255"),
    (torch.rand(3, 8, 8) * 1.5 - 0.2, r"must hold values in \[0, 1\]"),
    (torch.full((3, 8, 8), float("nan")), "image must be finite, got 192 NaN"),
    (torch.tensor(float("inf")).expand(1, 3, 4, 4), "1 NaN|0 NaN and 48 inf"),
])
def test_synthesize_rain_refuses_values_outside_0_1(image: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        synthesize_rain(image, seed=0)


def test_synthetic_dataset_checks_images_and_index() -> None:
    with pytest.raises(ValueError, match=r"clean_images\[0\] must hold values in \[0, 1\]"):
        SyntheticRainDataset([torch.rand(3, 8, 8) * 255])
    dataset = SyntheticRainDataset([torch.rand(3, 8, 8)])
    with pytest.raises(TypeError, match="index must be an int, got str"):
        dataset["0"]  # type: ignore[index]
    with pytest.raises(IndexError):
        dataset[1]

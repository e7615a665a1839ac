"""Paired crop, flip and padding helpers."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rainkit.data import pad_to_size, paired_random_crop, paired_random_flip


def test_crop_is_the_same_window() -> None:
    image = torch.arange(2 * 10 * 12.0).view(2, 10, 12)
    a, b = paired_random_crop(image, image + 1000, 5, random.Random(0))
    assert a.shape == (2, 5, 5) and torch.equal(b, a + 1000)
    # the crop is a contiguous window of the source
    top, left = int(a[0, 0, 0].item()) // 12, int(a[0, 0, 0].item()) % 12
    assert torch.equal(a, image[:, top:top + 5, left:left + 5])


def test_crop_covers_every_offset() -> None:
    image = torch.arange(6.0).view(1, 1, 6).expand(1, 3, 6).contiguous()
    rng = random.Random(1)
    starts = {int(paired_random_crop(image, image, 3, rng)[0][0, 0, 0].item()) for _ in range(200)}
    assert starts == {0, 1, 2, 3}


def test_crop_size_mismatch() -> None:
    with pytest.raises(ValueError, match="rainy and clean must have the same shape"):
        paired_random_crop(torch.zeros(3, 4, 4), torch.zeros(3, 5, 4), 2)


def test_flip_applies_same_flip() -> None:
    image = torch.rand(3, 4, 5)
    rng = random.Random(3)
    seen = set()
    for _ in range(40):
        a, b = paired_random_flip(image, image.clone(), rng)
        assert torch.equal(a, b)
        key = next(k for k, v in {"id": image, "h": image.flip(-1), "v": image.flip(-2),
                                  "hv": image.flip(-1).flip(-2)}.items() if torch.equal(a, v))
        seen.add(key)
    assert seen == {"id", "h", "v", "hv"}


def test_pad_matches_numpy_reflect() -> None:
    array = np.arange(20.0).reshape(1, 4, 5)
    padded = pad_to_size(torch.from_numpy(array), 7)
    expected = np.pad(array, ((0, 0), (0, 3), (0, 2)), mode="reflect")
    np.testing.assert_array_equal(padded.numpy(), expected)
    # larger than twice the side needs several rounds, still the right size
    assert pad_to_size(torch.rand(3, 2, 3), 16).shape == (3, 16, 16)
    assert pad_to_size(torch.rand(3, 1, 1), 4).shape == (3, 4, 4)


def test_pad_batch_matches_numpy_reflect() -> None:
    # any leading dimensions: each (H, W) plane is padded as numpy pads it
    array = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    padded = pad_to_size(torch.from_numpy(array), 6)
    expected = np.pad(array, ((0, 0), (0, 0), (0, 2), (0, 1)), mode="reflect")
    np.testing.assert_array_equal(padded.numpy(), expected)
    np.testing.assert_array_equal(pad_to_size(torch.from_numpy(array[0, 0]), 6).numpy(),
                                  expected[0, 0])


def test_crop_integer_images() -> None:
    # large enough: cropped as they are, dtype kept; too small: padding needs floats
    image = torch.randint(0, 256, (3, 9, 9), dtype=torch.uint8)
    a, b = paired_random_crop(image, image.clone(), 4, random.Random(0))
    assert a.dtype == torch.uint8 and a.shape == (3, 4, 4) and torch.equal(a, b)
    with pytest.raises(TypeError, match="rainy must be a floating-point tensor"):
        paired_random_crop(image, image, 12)


BAD_IMAGES = [
    (np.zeros((3, 8, 8), np.float32), TypeError, "must be a torch.Tensor"),
    (None, TypeError, "must be a torch.Tensor"),
    (torch.zeros(3, 8, 8, dtype=torch.complex64), TypeError, "must be a real-valued"),
    (torch.zeros(8), ValueError, "must have shape .* at least 2 dimensions"),
    (torch.zeros(3, 0, 8), ValueError, "must not be empty"),
    (torch.zeros(0, 8, 8), ValueError, "must not be empty"),
]


@pytest.mark.parametrize(("image", "error", "match"), BAD_IMAGES)
def test_bad_images_rejected(image: object, error: type, match: str) -> None:
    good = torch.zeros(3, 8, 8)
    with pytest.raises(error, match="image " + match):
        pad_to_size(image, 4)  # type: ignore[arg-type]
    for func in (lambda x, y: paired_random_crop(x, y, 4), paired_random_flip):
        with pytest.raises(error, match="rainy " + match):
            func(image, good)
        with pytest.raises(error, match="clean " + match):
            func(good, image)


def test_pad_rejects_integer_images() -> None:
    for dtype in (torch.uint8, torch.int64, torch.bool):
        with pytest.raises(TypeError, match="image must be a floating-point tensor"):
            pad_to_size(torch.zeros(3, 4, 4, dtype=dtype), 8)


@pytest.mark.parametrize("clean_shape", [(3, 7, 8), (1, 8, 8), (3, 8, 7), (1, 3, 8, 8)])
def test_mismatched_pairs_rejected(clean_shape: tuple[int, ...]) -> None:
    rainy, clean = torch.zeros(3, 8, 8), torch.zeros(clean_shape)
    with pytest.raises(ValueError, match="rainy and clean must have the same shape"):
        paired_random_crop(rainy, clean, 4)
    with pytest.raises(ValueError, match="rainy and clean must have the same shape"):
        paired_random_flip(rainy, clean)


@pytest.mark.parametrize(
    ("size", "error"),
    [(float("inf"), TypeError), (float("nan"), TypeError), (8.0, TypeError), ("8", TypeError),
     (None, TypeError), (True, TypeError), (0, ValueError), (-1, ValueError)],
)
def test_bad_size_rejected(size: object, error: type) -> None:
    # size=inf used to pad until memory ran out (tens of GB); it must fail before allocating
    image = torch.zeros(3, 4, 4)
    with pytest.raises(error, match="size"):
        pad_to_size(image, size)  # type: ignore[arg-type]
    with pytest.raises(error, match="size"):
        paired_random_crop(image, image, size)  # type: ignore[arg-type]


def test_numpy_integer_size_accepted() -> None:
    image = torch.rand(3, 4, 4)
    assert pad_to_size(image, np.int64(6)).shape == (3, 6, 6)
    assert paired_random_crop(image, image, np.int32(3))[0].shape == (3, 3, 3)

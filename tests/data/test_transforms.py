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
    with pytest.raises(ValueError, match="same height and width"):
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

"""sample_photos: scikit-image's bundled photos as RGB float tensors, without downloads."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest
import torch
from skimage import data as skdata

from rainkit.data import SAMPLE_PHOTOS, sample_photos


def test_rgb_photo_is_scaled_channels_first() -> None:
    (photo,) = sample_photos(["coffee"])
    reference = skdata.coffee()  # (H, W, 3) uint8
    assert photo.dtype == torch.float32 and photo.shape == (3, *reference.shape[:2])
    np.testing.assert_allclose(photo.numpy(), reference.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_grey_photo_repeated_to_three_channels_in_order() -> None:
    camera, coffee = sample_photos(("camera", "coffee"))
    reference = skdata.camera() / 255.0
    assert camera.shape == (3, *reference.shape) and coffee.shape[0] == 3
    for channel in camera:
        np.testing.assert_allclose(channel.numpy(), reference, atol=1e-7)


def test_every_listed_photo_loads_offline_in_range() -> None:
    for name, photo in zip(SAMPLE_PHOTOS, sample_photos(SAMPLE_PHOTOS)):
        assert photo.shape[0] == 3 and photo.is_contiguous(), name
        assert 0.0 <= float(photo.min()) and float(photo.max()) <= 1.0, name


def test_bad_names() -> None:
    with pytest.raises(TypeError, match="sequence of photo names"):
        sample_photos("camera")
    with pytest.raises(TypeError, match="must hold strings"):
        sample_photos([1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="among astronaut.*got 'eagle'"):
        sample_photos(["eagle"])  # downloaded on first use by scikit-image: not offered


def test_missing_scikit_image_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_skimage(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("skimage"):
            raise ImportError("No module named 'skimage'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "skimage", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_skimage)
    with pytest.raises(ImportError, match=r"rainkit\[examples\]"):
        sample_photos(["camera"])

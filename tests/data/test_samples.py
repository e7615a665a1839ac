"""sample_photos and demo_datasets: scikit-image's bundled photos as RGB float tensors, offline."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest
import torch
from skimage import data as skdata

from rainkit.data import (
    DEMO_TRAIN_PHOTOS,
    DEMO_VAL_PHOTOS,
    SAMPLE_PHOTOS,
    demo_datasets,
    sample_photos,
)


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


def test_demo_datasets_train_and_validate_on_different_photos() -> None:
    train, val = demo_datasets(patch_size=24, samples_per_image=3, seed=5)
    assert set(DEMO_TRAIN_PHOTOS).isdisjoint(DEMO_VAL_PHOTOS)
    assert set(DEMO_TRAIN_PHOTOS) | set(DEMO_VAL_PHOTOS) <= set(SAMPLE_PHOTOS)
    assert len(train) == 3 * len(DEMO_TRAIN_PHOTOS)
    rainy, clean, _ = train[len(DEMO_TRAIN_PHOTOS) + 1]
    assert rainy.shape == clean.shape == (3, 24, 24) and rainy.dtype == torch.float32
    assert 0.0 <= float(rainy.min()) and float(rainy.max()) <= 1.0
    # the validation targets are the whole photos as scikit-image ships them
    assert [name for _, _, name in val] == list(DEMO_VAL_PHOTOS)
    for (rainy, clean, name), reference in zip(val, (skdata.coffee(), skdata.chelsea())):
        np.testing.assert_allclose(clean.numpy(), reference.transpose(2, 0, 1) / 255.0,
                                   atol=1e-7)
        assert rainy.shape == clean.shape, name
        streaks = rainy - clean  # synthetic rain only brightens, and covers part of the photo
        assert float(streaks.min()) >= -1e-6, name
        assert 0.0 < float((streaks > 0.05).float().mean()) < 0.5, name


def test_demo_datasets_are_reproducible_by_seed() -> None:
    train, val = demo_datasets(patch_size=16, samples_per_image=1, seed=1)
    again, val_again = demo_datasets(patch_size=16, samples_per_image=1, seed=1)
    other, val_other = demo_datasets(patch_size=16, samples_per_image=1, seed=2)
    assert torch.equal(train[2][0], again[2][0]) and torch.equal(val[0][0], val_again[0][0])
    assert not torch.equal(val[0][0], val_other[0][0])
    assert not torch.equal(train[2][0], other[2][0])


def test_demo_datasets_bad_arguments() -> None:
    with pytest.raises(ValueError, match="patch_size must be >= 1"):
        demo_datasets(patch_size=0)
    with pytest.raises(TypeError, match="samples_per_image must be an int"):
        demo_datasets(samples_per_image=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int"):
        demo_datasets(seed="0")  # type: ignore[arg-type]

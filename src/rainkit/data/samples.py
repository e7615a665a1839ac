"""Photos shipped inside scikit-image, as float tensors and demo datasets (no download)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rainkit._checks import check_int
from rainkit.data.synthetic import SyntheticRainDataset, synthesize_rain

__all__ = [
    "DEMO_TRAIN_PHOTOS",
    "DEMO_VAL_PHOTOS",
    "SAMPLE_PHOTOS",
    "demo_datasets",
    "sample_photos",
]

#: Names of the :mod:`skimage.data` images that ship inside the scikit-image wheel (the others
#: are downloaded on first use, which rainkit never does behind your back).
SAMPLE_PHOTOS: tuple[str, ...] = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text",
)
#: The photos :func:`demo_datasets` trains on.
DEMO_TRAIN_PHOTOS: tuple[str, ...] = (
    "astronaut", "rocket", "immunohistochemistry", "camera", "brick", "coins",
    "hubble_deep_field", "moon",
)
#: The photos :func:`demo_datasets` validates on (none of them is trained on).
DEMO_VAL_PHOTOS: tuple[str, ...] = ("coffee", "chelsea")


def sample_photos(names: Sequence[str]) -> list[torch.Tensor]:
    r"""Load photos bundled with scikit-image as RGB float tensors in :math:`[0, 1]`.

    Grey-scale photos are repeated to three channels, an alpha channel is dropped, and 8-bit
    (16-bit) values are divided by 255 (65535). Nothing is downloaded: only the names in
    :data:`SAMPLE_PHOTOS`, which ship inside scikit-image, are accepted.

    Args:
        names: names from :data:`SAMPLE_PHOTOS`, such as ``("astronaut", "coffee")``.

    Returns:
        One float32 tensor :math:`(3, H, W)` with values in :math:`[0, 1]` per name, in order.

    Raises:
        TypeError: if ``names`` is a string or not a sequence of strings.
        ValueError: if a name is not in :data:`SAMPLE_PHOTOS`.
        ImportError: if scikit-image is not installed (``pip install rainkit[examples]``).

    Example:
        >>> (camera,) = sample_photos(["camera"])
        >>> camera.shape, camera.dtype
        (torch.Size([3, 512, 512]), torch.float32)
        >>> 0.0 <= float(camera.min()) and float(camera.max()) <= 1.0
        True
    """
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of photo names such as ['camera'], got "
                        f"{names!r}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must hold strings, got {type(name).__name__} {name!r}")
        if name not in SAMPLE_PHOTOS:
            raise ValueError(f"photo names must be among {', '.join(SAMPLE_PHOTOS)}, got "
                             f"{name!r}")
    try:
        from skimage import data as skdata
    except ImportError as err:
        raise ImportError("rainkit.data.sample_photos needs scikit-image: pip install "
                          "'rainkit[examples]'") from err
    photos = []
    for name in names:
        array = np.asarray(getattr(skdata, name)())
        array = np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array[:, :, :3]
        array = array.astype(np.float32) / (65535.0 if array.dtype == np.uint16 else 255.0)
        photos.append(torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))))
    return photos


def demo_datasets(
    *, patch_size: int = 64, samples_per_image: int = 16, seed: int = 0
) -> tuple[SyntheticRainDataset, list[tuple[torch.Tensor, torch.Tensor, str]]]:
    r"""A training set and validation pairs of synthetic rain on scikit-image photos.

    The training set draws random patches with random rain from the photos of
    :data:`DEMO_TRAIN_PHOTOS` (:class:`SyntheticRainDataset`, augmented, seeded); the
    validation pairs are the whole photos of :data:`DEMO_VAL_PHOTOS` under a fixed rain
    (:func:`synthesize_rain` with density 0.004, length 15, width 1.2, brightness 0.8, blur
    0.5, at angles 10 and -10 degrees, seeded with ``seed + 1000 + i``), the same for every
    run with that seed. ``examples/train.py --demo`` trains on them; nothing is downloaded.

    Args:
        patch_size: side of the training patches (:math:`\geq 1`).
        samples_per_image: training patches per photo per epoch (:math:`\geq 1`).
        seed: seeds the training patches (with the epoch, see
            :meth:`SyntheticRainDataset.set_epoch`) and the validation rain.

    Returns:
        ``(train, val)``: the training dataset, whose items are ``(rainy, clean, name)`` with
        float32 patches :math:`(3, \text{patch\_size}, \text{patch\_size})` in
        :math:`[0, 1]`, and a list of ``(rainy, clean, name)`` with float32 photos
        :math:`(3, H, W)` in :math:`[0, 1]`.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if ``patch_size`` or ``samples_per_image`` is below 1.
        ImportError: if scikit-image is not installed.

    Example:
        >>> train, val = demo_datasets(patch_size=32, samples_per_image=2, seed=0)
        >>> len(train), train[0][0].shape
        (16, torch.Size([3, 32, 32]))
        >>> [(name, tuple(rainy.shape)) for rainy, clean, name in val]
        [('coffee', (3, 400, 600)), ('chelsea', (3, 300, 451))]
    """
    patch_size = check_int(patch_size, "patch_size", minimum=1)
    samples_per_image = check_int(samples_per_image, "samples_per_image", minimum=1)
    seed = check_int(seed, "seed")
    train = SyntheticRainDataset(
        sample_photos(DEMO_TRAIN_PHOTOS), patch_size=patch_size,
        samples_per_image=samples_per_image, augment=True, seed=seed,
    )
    val = []
    for i, (photo, name) in enumerate(zip(sample_photos(DEMO_VAL_PHOTOS), DEMO_VAL_PHOTOS)):
        rainy, _ = synthesize_rain(photo, density=0.004, length=15.0, angle=10.0 - 20.0 * i,
                                   width=1.2, brightness=0.8, blur=0.5, seed=seed + 1000 + i)
        val.append((rainy, photo, name))
    return train, val

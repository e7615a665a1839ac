"""Photos shipped inside scikit-image, as float tensors for demos and tests (no download)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["SAMPLE_PHOTOS", "sample_photos"]

#: Names of the :mod:`skimage.data` images that ship inside the scikit-image wheel (the others
#: are downloaded on first use, which rainkit never does behind your back).
SAMPLE_PHOTOS: tuple[str, ...] = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text",
)


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

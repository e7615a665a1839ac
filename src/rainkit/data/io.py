"""Reading image files into float tensors in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_EXTENSIONS", "read_image", "save_image"]

#: File name suffixes treated as images by the datasets (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype in (np.uint16, np.int32, np.int64) or np.issubdtype(array.dtype, np.integer):
        # 16-bit PNGs are decoded by PIL as int32 ("I" / "I;16" modes) with values in [0, 65535].
        return array.astype(np.float32) / 65535.0
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read an image file as a 3-channel float tensor in [0, 1].

    Grayscale images are repeated to 3 channels, an alpha channel is dropped, palette images
    are converted to RGB, and 16-bit PNGs are scaled by :math:`1 / 65535` (8-bit by
    :math:`1 / 255`).

    Args:
        path: the image file (PNG, JPEG, BMP, TIFF, WebP: anything PIL decodes).

    Returns:
        A ``float32`` tensor of shape :math:`(3, H, W)` with values in :math:`[0, 1]`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file exists but cannot be decoded; the message names it.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/gray.png"
        >>> Image.fromarray(np.full((4, 5), 255, np.uint8)).save(path)
        >>> image = read_image(path)
        >>> image.shape, image.dtype, image.max().item()
        (torch.Size([3, 4, 5]), torch.float32, 1.0)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            if img.mode == "I;16" or img.mode.startswith("I;16"):
                array = np.array(img, dtype=np.uint16)
            else:
                array = np.array(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(
            f"cannot read image file {path}: it is corrupt or not an image ({err})"
        ) from err
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 2:  # gray + alpha
        array = np.repeat(array[:, :, :1], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:  # RGBA
        array = array[:, :, :3]
    elif array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"cannot read image file {path}: unsupported array shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(_to_float(array).transpose(2, 0, 1)))


def save_image(image: torch.Tensor, path: str | os.PathLike[str]) -> None:
    """Save a :math:`(3, H, W)` or :math:`(1, H, W)` tensor in [0, 1] as an 8-bit image file.

    Values are clamped to :math:`[0, 1]` and rounded; the format follows the suffix.

    Args:
        image: a tensor of shape :math:`(C, H, W)` with :math:`C \\in \\{1, 3\\}`.
        path: the output file; its parent directory is created.

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/x.png"
        >>> save_image(torch.ones(3, 2, 2), path)
        >>> read_image(path).min().item()
        1.0
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must have shape (1 or 3, H, W), got {tuple(image.shape)}")
    array = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    array = array.transpose(1, 2, 0)
    if array.shape[2] == 1:
        array = array[:, :, 0]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)

"""Reading image files into float tensors in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_EXTENSIONS", "decode_image", "read_image", "save_image", "to_float_tensor"]

#: File name suffixes treated as images by the datasets (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def to_float_tensor(image: torch.Tensor) -> torch.Tensor:
    """Scale a decoded ``(C, H, W)`` image tensor to ``float32`` in [0, 1].

    ``uint8`` is divided by 255; the other integer types (16-bit PNGs decode to ``int32``)
    by 65535; ``bool`` becomes 0 or 1; floating images are clipped to [0, 1].

    Args:
        image: a tensor of any shape, typically :math:`(3, H, W)` from :func:`decode_image`.

    Returns:
        A new ``float32`` tensor of the same shape with values in :math:`[0, 1]`.

    Example:
        >>> to_float_tensor(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
    """
    if image.dtype == torch.uint8:
        return image.float().div_(255.0)
    if image.dtype == torch.bool:
        return image.float()
    if not image.is_floating_point():
        return image.float().div_(65535.0)
    return image.float().clamp(0.0, 1.0)


def decode_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Decode an image file to a 3-channel ``(3, H, W)`` tensor in its stored integer type.

    The compact form that :class:`~rainkit.data.PairedRainDataset` keeps in memory when asked
    to cache: a quarter of the float32 size for 8-bit files. :func:`read_image` is this
    followed by :func:`to_float_tensor`. The tensor is a channels-first view of the decoded
    ``(H, W, 3)`` array (no copy).

    Args:
        path: the image file (PNG, JPEG, BMP, TIFF, WebP: anything PIL decodes).

    Returns:
        A tensor of shape :math:`(3, H, W)`: ``uint8`` for 8-bit files, ``int32`` holding
        values in :math:`[0, 65535]` for 16-bit PNGs, ``float32`` for floating-point TIFFs.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file exists but cannot be decoded; the message names it.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/rgb.png"
        >>> Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(path)
        >>> image = decode_image(path)
        >>> image.shape, image.dtype
        (torch.Size([3, 4, 5]), torch.uint8)
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
                array = np.array(img, dtype=np.uint16).astype(np.int32)
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
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)


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
    return to_float_tensor(decode_image(path)).contiguous()


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

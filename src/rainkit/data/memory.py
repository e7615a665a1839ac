"""The memory that decoded images will take, read from their file headers only."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from PIL import Image

__all__ = ["estimate_decoded_bytes"]


def estimate_decoded_bytes(paths: Iterable[str | os.PathLike[str]]) -> int:
    r"""Bytes that the images will take once decoded to 3 channels, without decoding them.

    Each file's header gives its size :math:`W \times H` and mode; an image counts
    :math:`3 W H` bytes, or :math:`12 W H` for 16-bit and floating-point modes (``I``, ``F``,
    ``I;16``), which decode to 4-byte values. Use it to decide whether a dataset fits an
    in-memory cache (``PairedRainDataset(..., cache=True)``). Files that cannot be opened as
    images are skipped (the dataset reports them when it reads them).

    Args:
        paths: image files (any format Pillow reads).

    Returns:
        The estimated decoded size in bytes, an ``int`` :math:`\ge 0`.

    Raises:
        TypeError: if ``paths`` is a single path, or not iterable.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (24, 20)).save(folder / "a.png")
        >>> Image.new("I;16", (10, 10)).save(folder / "b.png")
        >>> estimate_decoded_bytes([folder / "a.png", folder / "b.png"])
        2640
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be an iterable of image paths, got the single path "
                        f"{paths!r}")
    if not isinstance(paths, Iterable):
        raise TypeError(f"paths must be an iterable of image paths, got "
                        f"{type(paths).__name__}")
    total = 0
    for path in paths:
        with contextlib.suppress(OSError, ValueError), Image.open(path) as image:
            width, height = image.size
            total += 3 * width * height * (4 if image.mode[0] in "IF" else 1)
    return total

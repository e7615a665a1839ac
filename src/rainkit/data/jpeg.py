"""The JPEG step of PReNet's Rain1400 pipeline: results written as JPEG (quality 95) and read back.

PReNet's ``test_PReNet.py`` saves every result with ``cv2.imwrite`` under the input's file name,
and Rain1400's inputs are ``<i>_<k>.jpg``: the scored results are JPEG files, encoded with
OpenCV's defaults. :func:`jpeg_roundtrip` reproduces that step with Pillow, so that
``rainkit evaluate`` can score the images PReNet's MATLAB script read.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import torch
from PIL import Image

from rainkit._checks import check_choice, check_image_tensor, check_int
from rainkit.data.io import check_unit_interval

__all__ = ["JPEG_SUBSAMPLING", "jpeg_roundtrip"]

#: The chroma subsampling modes :func:`jpeg_roundtrip` accepts, as Pillow names them.
JPEG_SUBSAMPLING: tuple[str, ...] = ("4:2:0", "4:2:2", "4:4:4")

_QUANTIZE = ("round", "floor")


def jpeg_roundtrip(
    image: torch.Tensor,
    quality: int = 95,
    *,
    subsampling: Literal["4:2:0", "4:2:2", "4:4:4"] = "4:2:0",
    quantize: Literal["round", "floor"] = "round",
) -> torch.Tensor:
    """Encode an image as a baseline JPEG and decode it back, as ``cv2.imwrite`` would store it.

    The defaults are OpenCV's ``imwrite`` for a ``.jpg`` file (``JpegEncoder::write`` in
    ``modules/imgcodecs/src/grfmt_jpeg.cpp``): ``jpeg_set_defaults`` (baseline, Huffman tables
    not optimised, chroma subsampled 2x2, i.e. 4:2:0, the integer "islow" DCT), then
    ``jpeg_set_quality(95, force_baseline=TRUE)``: the standard tables of ITU-T T.81 Annex K
    scaled by :math:`(200 - 2q) / 100 = 0.1`. Pillow calls the same libjpeg functions with the
    same settings, so with the same libjpeg build the encoded file is byte-for-byte the one
    OpenCV writes (checked in the tests against ``cv2.imencode`` when OpenCV is installed).
    Decoding uses libjpeg's defaults in both (islow IDCT, "fancy" triangular chroma
    upsampling). What can still differ: OpenCV wheels and Pillow wheels both ship
    libjpeg-turbo, which reproduces IJG libjpeg 6b; an OpenCV built against IJG libjpeg 7 or
    later, and MATLAB's own ``imread``, may round chroma differently by one level in some
    pixels. Which build PReNet's figures came from is not known.

    Floating images are first quantized to 8 bits, as the test script did before writing:
    PReNet's ``np.uint8(255 * out)`` truncates (``quantize="floor"``); ``"round"`` is
    ``img_as_ubyte``'s rounding. ``uint8`` images are encoded as they are.

    Args:
        image: :math:`(C, H, W)` or :math:`(B, C, H, W)` with :math:`C \\in \\{1, 3\\}` (RGB
            or grayscale): ``uint8``, or floating with values in :math:`[0, 1]`.
        quality: the JPEG quality, 1 to 100 (OpenCV's default is 95).
        subsampling: chroma subsampling of colour images: ``"4:2:0"`` (libjpeg's and
            OpenCV's default), ``"4:2:2"`` or ``"4:4:4"``.
        quantize: how a floating image becomes 8-bit before encoding: ``"round"`` (half up)
            or ``"floor"`` (PReNet's truncation).

    Returns:
        The decoded image, the shape, dtype and device of ``image``: ``uint8``, or floating
        with values :math:`k / 255`.

    Raises:
        TypeError: ``image`` is not a tensor, or neither ``uint8`` nor floating.
        ValueError: a bad shape or channel count, floating values outside :math:`[0, 1]`
            (or NaN), a bad ``quality``, ``subsampling`` or ``quantize``.

    Example:
        >>> image = torch.linspace(0, 1, 3 * 16 * 16).reshape(3, 16, 16)
        >>> out = jpeg_roundtrip(image, quality=95, quantize="floor")
        >>> out.shape, out.dtype, bool((out - image).abs().max() < 0.05)
        (torch.Size([3, 16, 16]), torch.float32, True)
        >>> bool((out * 255 - (out * 255).round()).abs().max() < 1e-4)  # 8-bit levels
        True
    """
    check_image_tensor(image, "image", ndims=(3, 4), channels=(1, 3), floating=False)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality must be an int, got {type(quality).__name__}")
    quality = check_int(quality, "quality", minimum=1)
    if quality > 100:
        raise ValueError(f"quality must be in [1, 100], got {quality}")
    check_choice(subsampling, JPEG_SUBSAMPLING, "subsampling")
    check_choice(quantize, _QUANTIZE, "quantize")
    if image.dtype == torch.uint8:
        levels = image.detach().cpu()
    elif image.is_floating_point():
        values = image.detach().cpu().double()
        check_unit_interval(values, "image")
        scaled = values * 255.0
        levels = (scaled.floor() if quantize == "floor" else (scaled + 0.5).floor()).to(
            torch.uint8)
    else:
        raise TypeError(f"image must be uint8 or floating, got {image.dtype}")
    batch = levels if levels.ndim == 4 else levels[None]
    decoded = torch.stack([_roundtrip_one(item, quality, subsampling) for item in batch])
    if levels.ndim == 3:
        decoded = decoded[0]
    if image.dtype == torch.uint8:
        return decoded.to(image.device)
    return (decoded.to(image.dtype) / 255.0).to(image.device)


def _encode(levels: torch.Tensor, quality: int, subsampling: str) -> bytes:
    """The JPEG file of one ``(C, H, W)`` uint8 tensor, as Pillow's libjpeg writes it."""
    array = np.ascontiguousarray(levels.permute(1, 2, 0).numpy())
    gray = array.shape[2] == 1
    picture = Image.fromarray(array[:, :, 0] if gray else array)  # uint8: L or RGB
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality, "optimize": False, "progressive": False}
    if not gray:
        options["subsampling"] = subsampling
    picture.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _roundtrip_one(levels: torch.Tensor, quality: int, subsampling: str) -> torch.Tensor:
    """JPEG round trip of one ``(C, H, W)`` uint8 tensor through Pillow's libjpeg."""
    gray = levels.shape[0] == 1
    with Image.open(io.BytesIO(_encode(levels, quality, subsampling))) as decoded:
        out = np.array(decoded.convert("L" if gray else "RGB"))
    if gray:
        out = out[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)

"""Reading image files into tensors and writing tensors to image files, exactly."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rainkit._checks import check_choice, check_finite, check_path, check_raster
from rainkit._files import atomic_path, atomic_write_bytes
from rainkit.data.png16 import decode_png16, encode_png16, png_header

__all__ = [
    "IMAGE_EXTENSIONS",
    "check_unit_interval",
    "decode_image",
    "exif_orientation",
    "read_image",
    "save_image",
    "split_alpha",
    "to_float_tensor",
]

#: File name suffixes treated as images by the datasets (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

ReadMode = Literal["RGB", "keep"]
_READ_MODES: tuple[str, ...] = ("RGB", "keep")
_EXIF_ORIENTATION = 0x0112


def to_float_tensor(image: torch.Tensor) -> torch.Tensor:
    """Scale a decoded ``(C, H, W)`` image tensor to ``float32`` in [0, 1].

    ``uint8`` is divided by 255; the other integer types (16-bit PNGs decode to ``int32``)
    by 65535; ``bool`` becomes 0 or 1; floating images are clipped to [0, 1] (NaN stays NaN).

    Args:
        image: a real-valued tensor of shape :math:`(*, H, W)`, typically :math:`(3, H, W)`
            from :func:`decode_image`.

    Returns:
        A new ``float32`` tensor of the same shape with values in :math:`[0, 1]`.

    Raises:
        TypeError: ``image`` is not a tensor, or is complex.
        ValueError: ``image`` has fewer than 2 dimensions or a zero-size one.

    Example:
        >>> to_float_tensor(torch.tensor([[0, 51, 255]], dtype=torch.uint8))
        tensor([[0.0000, 0.2000, 1.0000]])
    """
    check_raster(image, "image")
    if image.dtype == torch.uint8:
        return image.float().div_(255.0)
    if image.dtype == torch.bool:
        return image.float()
    if not image.is_floating_point():
        return image.float().div_(65535.0)
    return image.float().clamp(0.0, 1.0)


def _cannot_read(path: Path, why: object) -> ValueError:
    return ValueError(f"cannot read image file {path}: {why}")


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1 to 8), or 1 when absent or unreadable (the pixels may
    still be fine: a broken EXIF block must not make the image unreadable)."""
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # any EXIF parsing failure means "no orientation"
        return 1


def _orient(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation tag (1-8) to a ``(C, H, W)`` tensor, as PIL's exif_transpose."""
    if orientation == 2:  # mirrored left-right
        return image.flip(-1)
    if orientation == 3:  # rotated 180
        return image.flip(-2, -1)
    if orientation == 4:  # mirrored top-bottom
        return image.flip(-2)
    if orientation == 5:  # transposed
        return image.transpose(-2, -1)
    if orientation == 6:  # rotate 90 clockwise to display
        return torch.rot90(image, -1, dims=(-2, -1))
    if orientation == 7:  # transversed
        return torch.rot90(image.transpose(-2, -1), 2, dims=(-2, -1))
    if orientation == 8:  # rotate 90 counter-clockwise to display
        return torch.rot90(image, 1, dims=(-2, -1))
    return image


def decode_image(path: str | os.PathLike[str], mode: ReadMode = "RGB") -> torch.Tensor:
    """Decode an image file to a ``(C, H, W)`` tensor in its stored integer type.

    The compact form that :class:`~rainkit.data.PairedRainDataset` keeps in memory when asked
    to cache: a quarter of the float32 size for 8-bit files. :func:`read_image` is this
    followed by :func:`to_float_tensor`.

    Pixels are exact: 16-bit PNGs (grayscale and colour, with or without alpha) keep all 16
    bits, and the EXIF orientation tag of camera and phone photos is applied, so the image
    comes out the way viewers show it. 16-bit colour TIFFs, which PIL can only reduce to 8
    bits, raise instead of losing their low byte (16-bit grayscale TIFFs are exact).

    Args:
        path: the image file (PNG, JPEG, BMP, TIFF, WebP: anything PIL decodes).
        mode: ``"RGB"`` for 3 channels (grayscale repeated, alpha dropped, palette and CMYK
            converted); ``"keep"`` for the stored channels: 1 (grayscale), 2 (grayscale and
            alpha), 3 (RGB) or 4 (RGBA); palette images become RGB, or RGBA when they have
            transparency.

    Returns:
        A tensor of shape :math:`(C, H, W)`: ``uint8`` for 8-bit files, ``int32`` holding
        values in :math:`[0, 65535]` for 16-bit PNGs, ``float32`` for floating-point TIFFs.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, corrupt or not an image; the message names it.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/rgb.png"
        >>> Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(path)
        >>> image = decode_image(path)
        >>> image.shape, image.dtype
        (torch.Size([3, 4, 5]), torch.uint8)
    """
    path = check_path(path, "path")
    check_choice(mode, _READ_MODES, "mode")
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.stat().st_size == 0:
        raise _cannot_read(path, "the file is empty (0 bytes)")
    try:
        header = png_header(path)
        with Image.open(path) as img:
            orientation = exif_orientation(img)
            if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
                array = decode_png16(path)
            else:
                bits = img.tag_v2.get(258) if img.format == "TIFF" else None
                if isinstance(bits, tuple) and len(bits) > 1 and max(bits) > 8:
                    raise _cannot_read(
                        path, f"a {max(bits)}-bit colour TIFF, which PIL reduces to 8 bits; "
                        "save it as a 16-bit PNG to read it exactly"
                    )
                img.load()
                if img.mode == "1":
                    img = img.convert("L")
                elif img.mode in ("P", "PA"):
                    has_alpha = img.mode == "PA" or "transparency" in img.info
                    img = img.convert("RGBA" if has_alpha else "RGB")
                elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                    img = img.convert("RGB")
                if img.mode.startswith("I;16"):
                    array = np.array(img, dtype=np.uint16).astype(np.int32)
                else:
                    array = np.array(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as err:
        if isinstance(err, ValueError) and str(err).startswith("cannot read image file"):
            raise
        raise _cannot_read(path, f"it is corrupt or not an image ({err})") from err
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise _cannot_read(path, f"unsupported array shape {array.shape}")
    if mode == "RGB":
        if array.shape[2] in (1, 2):  # gray (+ alpha)
            array = np.repeat(array[:, :, :1], 3, axis=2)
        else:
            array = array[:, :, :3]
    image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
    return _orient(image, orientation)


def read_image(path: str | os.PathLike[str], mode: ReadMode = "RGB") -> torch.Tensor:
    """Read an image file as a float tensor in [0, 1].

    8-bit files are scaled by :math:`1 / 255`, 16-bit PNGs by :math:`1 / 65535` (all 16 bits
    kept, colour included), and the EXIF orientation is applied (see :func:`decode_image`).

    With the default ``mode="RGB"`` every file gives 3 channels: grayscale is repeated, an
    alpha channel is dropped and palette images are converted. With ``mode="keep"`` the
    stored channels come back (1, 2, 3 or 4), so a tool can process the colour and write the
    image back in its own format: split the alpha off with :func:`split_alpha`, run the
    network on the colour (grayscale repeated to RGB with ``expand(3, -1, -1)``), and give
    :func:`save_image` the result with the alpha concatenated back, or its channel mean for
    a grayscale input.

    Args:
        path: the image file (PNG, JPEG, BMP, TIFF, WebP: anything PIL decodes).
        mode: ``"RGB"`` (3 channels) or ``"keep"`` (the stored channels).

    Returns:
        A ``float32`` tensor of shape :math:`(C, H, W)` with values in :math:`[0, 1]`;
        :math:`C = 3` for ``"RGB"``, :math:`C \\in \\{1, 2, 3, 4\\}` for ``"keep"``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, corrupt or not an image; the message names it.

    Example:
        >>> import tempfile, numpy as np
        >>> from PIL import Image
        >>> path = tempfile.mkdtemp() + "/gray.png"
        >>> Image.fromarray(np.full((4, 5), 255, np.uint8)).save(path)
        >>> image = read_image(path)
        >>> image.shape, image.dtype, image.max().item()
        (torch.Size([3, 4, 5]), torch.float32, 1.0)
        >>> read_image(path, mode="keep").shape
        torch.Size([1, 4, 5])
    """
    return to_float_tensor(decode_image(path, mode)).contiguous()


def split_alpha(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Split an image read with ``mode="keep"`` into its colour and its alpha channel.

    Args:
        image: a tensor of shape :math:`(C, H, W)` with :math:`C \\in \\{1, 2, 3, 4\\}`.

    Returns:
        ``(color, alpha)``: the first 1 or 3 channels, and the last channel of shape
        :math:`(1, H, W)` for 2- and 4-channel images, ``None`` otherwise.

    Raises:
        TypeError: ``image`` is not a tensor, or is complex.
        ValueError: ``image`` is not :math:`(C, H, W)` with 1 to 4 channels, or is empty.

    Example:
        >>> color, alpha = split_alpha(torch.rand(4, 2, 2))
        >>> color.shape, alpha.shape
        (torch.Size([3, 2, 2]), torch.Size([1, 2, 2]))
        >>> split_alpha(torch.rand(1, 2, 2))[1] is None
        True
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"image must have shape (1, 2, 3 or 4, H, W), got {tuple(image.shape)}")
    check_raster(image, "image")
    if image.shape[0] in (2, 4):
        return image[:-1], image[-1:]
    return image, None


def check_unit_interval(values: torch.Tensor, name: str = "image") -> None:
    """Raise ValueError unless a floating image holds finite values in [0, 1].

    Non-finite values follow the policy of :func:`rainkit._checks.check_finite`; for
    values out of range the message gives the range found and says which mistake it looks
    like: a 0..255 image (divide by 255) or a network output that overshoots (clamp it).
    Reads the values (one device synchronisation on a GPU).
    """
    check_finite(values, name)
    if not values.numel() or bool(((values >= 0) & (values <= 1)).all()):
        return
    low, high = values.min().item(), values.max().item()
    span = f"[{low:.4g}, {high:.4g}]"
    if high > 2.0 and low >= 0.0:
        raise ValueError(f"{name} must hold values in [0, 1], got {span}, which looks like a "
                         f"0..255 image: divide it by 255")
    raise ValueError(f"{name} must hold values in [0, 1], got {span}; clamp a network output "
                     f"with .clamp(0, 1)")


def _check_save_shape(image: torch.Tensor) -> None:
    """The shape checks of :func:`save_image`, with a hint for the usual mistakes."""
    shape = tuple(image.shape)
    if image.ndim == 3 and shape[0] in (1, 2, 3, 4):
        if shape[2] in (3, 4) and shape[1] >= 16:  # tall, 3 or 4 pixels wide: (H, W, C)?
            warnings.warn(
                f"save_image reads the tensor of shape {shape} as (C, H, W): {shape[0]} "
                f"channel(s), {shape[1]}x{shape[2]} pixels (height x width); if it is (H, W, C), "
                f"pass image.permute(2, 0, 1)", UserWarning, stacklevel=3)
        return
    if image.ndim == 3 and shape[2] in (1, 2, 3, 4):
        hint = ", which looks like (H, W, C): pass image.permute(2, 0, 1)"
    elif image.ndim == 2:
        hint = ", a 2-D (H, W) image: add its channel with image[None]"
    elif image.ndim == 4 and shape[1] in (1, 2, 3, 4):
        hint = ", a batch: save each image, image[0] for the first"
    else:
        hint = ""
    raise ValueError(
        f"image must have shape (C, H, W) with C in 1, 2, 3, 4 (1 gray, 2 gray + alpha, 3 RGB, "
        f"4 RGBA), got {shape}{hint}"
    )


def save_image(
    image: torch.Tensor, path: str | os.PathLike[str], *, bit_depth: Literal[8, 16] = 8
) -> None:
    """Save a :math:`(C, H, W)` tensor as an image file, exactly.

    ``uint8`` tensors are written as they are; ``uint16`` tensors hold 16-bit values; floating
    tensors must hold values in :math:`[0, 1]` and are scaled by 255 (or 65535) and rounded.
    The format follows the suffix; the parent folder is created, and the file appears whole or
    not at all (written to a temporary file in the same folder, then renamed).

    What is assumed, and said when it may be wrong:

    * **The layout is** :math:`(C, H, W)`, channels first, as every rainkit tensor. A tensor
      whose last dimension looks like channels (``(H, W, 3)`` from numpy or PIL) is refused
      with a hint to ``permute(2, 0, 1)``; a tensor that fits both readings, such as
      ``(4, 480, 3)``, is saved as :math:`(C, H, W)` (a 3-pixel-wide image) with a
      :class:`UserWarning` that says so.
    * **The channels give the kind of image**: 1 grayscale, 2 grayscale and alpha, 3 RGB,
      4 RGBA, where the 4th channel is the opacity (0 transparent, 1 or 255 opaque).
    * **The dtype gives the scale**: ``uint8`` 0..255, ``uint16`` 0..65535, floating 0..1.
      Floating values outside :math:`[0, 1]` are refused, never clipped or rescaled: the
      message says whether they look like a 0..255 image (divide by 255), an overshooting
      network output (clamp), or hold NaN/inf. Other integer dtypes (``int64`` from
      ``torch.tensor([...])``) are refused rather than guessed at.

    Args:
        image: a tensor of shape :math:`(C, H, W)` with :math:`C \\in \\{1, 2, 3, 4\\}`:
            ``uint8`` in :math:`[0, 255]`, ``uint16`` in :math:`[0, 65535]`, or floating in
            :math:`[0, 1]` (clamp network outputs first: ``output.clamp(0, 1)``).
        path: the output file.
        bit_depth: 8, or 16 for a 16-bit PNG (``path`` must end in ``.png``). An 8-bit tensor
            saved at 16 bits is scaled by 257, so 255 becomes 65535.

    Raises:
        TypeError: ``image`` is not a tensor, or has another dtype (``int32``, ``int64``,
            ``bool``: convert to ``uint8`` or to float in [0, 1] first).
        ValueError: a bad shape (the message names the likely mistake: channels last, a
            2-D image, a batch), a floating value outside :math:`[0, 1]` (or NaN, inf), a
            ``uint16`` tensor saved at 8 bits, a 16-bit file that is not a PNG, or an alpha
            channel for a format without one (JPEG).

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/x.png"
        >>> save_image(torch.tensor([[[0, 128, 255]]], dtype=torch.uint8), path)
        >>> decode_image(path, mode="keep").tolist()
        [[[0, 128, 255]]]
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    _check_save_shape(image)
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    path = check_path(path, "path")
    if bit_depth == 16 and path.suffix.lower() != ".png":
        raise ValueError(f"16-bit output needs a .png file, got {path.name!r}")
    image = image.detach().cpu()
    peak = 65535 if bit_depth == 16 else 255
    if image.dtype == torch.uint8:
        array = image.numpy().astype(np.uint16) * 257 if bit_depth == 16 else image.numpy()
    elif image.dtype == torch.uint16:
        if bit_depth != 16:
            raise ValueError("a uint16 image needs bit_depth=16 (or convert it to float / 65535)")
        array = image.to(torch.int32).numpy().astype(np.uint16)
    elif image.is_floating_point():
        values = image.double()
        check_unit_interval(values, "image")
        array = (values * peak).round().numpy().astype(np.uint16 if bit_depth == 16 else np.uint8)
    else:
        hint = ("; convert 0..255 integers with .to(torch.uint8)"
                if not image.dtype.is_complex and image.dtype != torch.bool else "")
        raise TypeError(
            f"image must be uint8 (0..255), uint16 (0..65535) or floating (0..1), got "
            f"{image.dtype}{hint}"
        )
    array = np.ascontiguousarray(array.transpose(1, 2, 0))
    if bit_depth == 16:
        atomic_write_bytes(path, encode_png16(array))
        return
    channels = array.shape[2]
    if channels in (2, 4) and path.suffix.lower() in (".jpg", ".jpeg"):
        raise ValueError(f"JPEG cannot store an alpha channel: save {path.name!r} as .png")
    try:  # uint8 arrays with 1, 2, 3, 4 channels become L, LA, RGB, RGBA images
        with atomic_path(path) as temporary:  # the temporary name keeps the suffix
            Image.fromarray(array[:, :, 0] if channels == 1 else array).save(temporary)
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(f"cannot write image file {path}: {err}") from err

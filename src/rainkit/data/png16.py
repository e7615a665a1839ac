"""16-bit PNG: the exact decoder and writer behind :func:`~rainkit.data.read_image` and
:func:`~rainkit.data.save_image` (PIL reduces 16-bit colour PNGs to 8 bits and writes 16-bit
grayscale only).

Public within the package (not exported by :mod:`rainkit.data`): :func:`png_header`,
:func:`decode_png16`, :func:`encode_png16`; the checks follow the PNG specification
(W3C, 2003): chunk CRCs, the zlib stream, the row filters of section 9.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

__all__ = ["PNG_SIGNATURE", "decode_png16", "encode_png16", "png_header", "unfilter_rows"]

#: The eight bytes every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cannot_read(path: Path, why: object) -> ValueError:
    # the wording of rainkit.data.io, whose decode_image passes these errors on unchanged
    return ValueError(f"cannot read image file {path}: {why}")


def png_header(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or ``None`` for other files."""
    with open(path, "rb") as file:
        head = file.read(26)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def decode_png16(path: Path) -> np.ndarray:
    """Decode a 16-bit colour PNG (which PIL reduces to 8 bits) to an ``(H, W, C)`` int32 array.

    The file's structure is checked first (every chunk's CRC, the zlib stream and its size):
    torchvision's libpng decoder can crash the process on a corrupt file. The pixels then come
    from torchvision when it returns 16-bit samples (torchvision >= 0.21), else from
    :func:`unfilter_rows`.
    """
    data = path.read_bytes()
    width, height, channels, raw = _parse_png16(data, path)
    try:
        from torchvision.io import ImageReadMode, decode_png
    except ImportError:  # pragma: no cover - torchvision without its image extension
        decode_png = None
    if decode_png is not None:
        with warnings.catch_warnings():  # torchvision >= 0.29 flags its decoders as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                decoded = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                                     mode=ImageReadMode.UNCHANGED)
            except RuntimeError as err:
                raise _cannot_read(path, f"it is corrupt or not a PNG ({err})") from err
        if decoded.dtype == torch.uint16 and tuple(decoded.shape) == (channels, height, width):
            pixels: np.ndarray = decoded.to(torch.int32).permute(1, 2, 0).numpy()
            return pixels
    try:
        samples = unfilter_rows(raw, channels * 2)
    except ValueError as err:
        raise _cannot_read(path, f"it is corrupt ({err})") from err
    return samples.view(">u2").reshape(height, width, channels).astype(np.int32)


def unfilter_rows(rows: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the PNG row filters (PNG spec section 9) of ``(H, 1 + stride)`` filtered bytes."""
    height, stride = rows.shape[0], rows.shape[1] - 1
    out = np.zeros((height, stride), np.uint8)
    prior = np.zeros(stride, np.uint8)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:  # None
            current = line.copy()
        elif kind == 1:  # Sub: a running sum along each byte lane, modulo 256
            current = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            current = line + prior
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            filt, up = line.tolist(), prior.tolist()
            rec = [0] * stride
            for i in range(stride):
                a = rec[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    rec[i] = (filt[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                rec[i] = (filt[i] + pred) & 255
            current = np.array(rec, np.uint8)
        else:
            raise ValueError(f"unknown PNG filter type {kind} in row {y}")
        out[y] = current
        prior = current
    return out


def _parse_png16(data: bytes, path: Path) -> tuple[int, int, int, np.ndarray]:
    """Check a 16-bit PNG's structure; return its width, height, channels and the
    ``(H, 1 + stride)`` filtered rows (non-interlaced files)."""
    pos, header, last = 8, None, b""
    idat: list[bytes] = []
    try:
        while pos + 12 <= len(data):
            (length,) = struct.unpack(">I", data[pos:pos + 4])
            kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
            (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
            if len(body) != length or zlib.crc32(kind + body) != crc:
                raise ValueError(f"chunk {kind!r} is truncated or its CRC is wrong")
            if kind == b"IHDR":
                header = struct.unpack(">IIBBBBB", body)
            elif kind == b"IDAT":
                if idat and last != b"IDAT":
                    raise ValueError("its IDAT chunks are not consecutive")
                idat.append(body)
            elif kind == b"IEND":
                break
            last = kind
            pos += 12 + length
        else:
            raise ValueError("the file ends before its IEND chunk")
        if header is None or not idat:
            raise ValueError("no IHDR or IDAT chunk")
        width, height, depth, color_type, compression, filtering, interlace = header
        channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color_type)
        if depth != 16 or channels is None:
            raise ValueError(f"bit depth {depth}, colour type {color_type} is not 16-bit")
        if width == 0 or height == 0 or compression or filtering:
            raise ValueError(f"invalid IHDR {header}")
        if interlace:
            raise ValueError("interlaced 16-bit PNGs are not supported; save it without "
                             "interlacing")
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
        stride = width * channels * 2
        if raw.size != height * (stride + 1):
            raise ValueError(f"{raw.size} bytes of image data, expected {height * (stride + 1)}")
        kinds = raw[:: stride + 1]
        if int(kinds.max()) > 4:
            raise ValueError(f"unknown row filter type {int(kinds.max())}")
    except (ValueError, struct.error, zlib.error) as err:
        raise _cannot_read(path, f"it is corrupt or not a 16-bit PNG ({err})") from err
    return width, height, channels, raw.reshape(height, stride + 1)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png16(array: np.ndarray) -> bytes:
    """The 16-bit PNG file of an ``(H, W, C)`` uint16 array, ``C`` in 1 to 4 (PIL writes
    16-bit grayscale only): one IDAT chunk, filter type 0 on every row."""
    height, width, channels = array.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = array.astype(">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter type 0
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + _png_chunk(b"IEND", b""))

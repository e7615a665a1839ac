"""read_image / save_image: every pixel format the datasets meet, and bad files."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.data import decode_image, read_image, save_image, split_alpha, to_float_tensor


def _write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def test_rgb_png_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    array = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = read_image(_write(tmp_path / "a.png", array))
    assert image.shape == (3, 5, 7) and image.dtype == torch.float32
    # independent reference: value / 255, channels first
    np.testing.assert_allclose(image.numpy(), array.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_grayscale_expanded_to_three_channels(tmp_path: Path, rng: np.random.Generator) -> None:
    array = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    image = read_image(_write(tmp_path / "g.png", array))
    assert image.shape == (3, 4, 6)
    for channel in image:
        np.testing.assert_allclose(channel.numpy(), array / 255.0, atol=1e-7)


def test_rgba_alpha_dropped(tmp_path: Path, rng: np.random.Generator) -> None:
    array = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    image = read_image(_write(tmp_path / "rgba.png", array))
    np.testing.assert_allclose(image.numpy(), array[:, :, :3].transpose(2, 0, 1) / 255.0,
                               atol=1e-7)


def test_16bit_png_scaled_by_65535(tmp_path: Path) -> None:
    array = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    image = read_image(path)
    assert image.shape == (3, 2, 2)
    np.testing.assert_allclose(image[0].numpy(), array / 65535.0, atol=1e-6)
    raw = decode_image(path)  # the stored values, unscaled
    np.testing.assert_array_equal(raw[0].numpy(), array)


def test_decode_then_float_is_read_image(tmp_path: Path, rng: np.random.Generator) -> None:
    array = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = _write(tmp_path / "a.png", array)
    raw = decode_image(path)
    assert raw.dtype == torch.uint8 and raw.shape == (3, 5, 7)
    np.testing.assert_array_equal(raw.numpy(), array.transpose(2, 0, 1))
    assert torch.equal(to_float_tensor(raw), read_image(path))


def test_to_float_tensor_scales_each_type() -> None:
    assert torch.equal(to_float_tensor(torch.tensor([[0, 255]], dtype=torch.uint8)),
                       torch.tensor([[0.0, 1.0]]))
    assert torch.equal(to_float_tensor(torch.tensor([[0, 65535]], dtype=torch.int32)),
                       torch.tensor([[0.0, 1.0]]))
    assert torch.equal(to_float_tensor(torch.tensor([[True, False]])), torch.tensor([[1.0, 0.0]]))
    assert torch.equal(to_float_tensor(torch.tensor([[-0.5, 0.25, 2.0]], dtype=torch.float64)),
                       torch.tensor([[0.0, 0.25, 1.0]]))


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((3, 2, 2), np.uint8), TypeError, "image must be a torch.Tensor"),
        ([[0, 1]], TypeError, "image must be a torch.Tensor"),
        (torch.zeros(3, 2, 2, dtype=torch.complex64), TypeError, "real-valued.*complex64"),
        (torch.zeros(4, dtype=torch.uint8), ValueError, "at least 2 dimensions.*1-D"),
        (torch.zeros(3, 0, 4), ValueError, "image must not be empty"),
        (torch.zeros(0, 4, 4), ValueError, "image must not be empty"),
    ],
)
def test_to_float_tensor_rejects(image: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_float_tensor(image)  # type: ignore[arg-type]


def test_jpeg_close_to_source(tmp_path: Path) -> None:
    array = np.full((16, 16, 3), (200, 100, 50), dtype=np.uint8)
    path = tmp_path / "a.jpg"
    Image.fromarray(array).save(path, quality=95)
    image = read_image(path)
    assert image.shape == (3, 16, 16)
    assert torch.allclose(image.mean((1, 2)), torch.tensor([200, 100, 50]) / 255.0, atol=0.02)


def test_palette_image(tmp_path: Path) -> None:
    img = Image.new("P", (3, 2))
    img.putpalette([255, 0, 0] + [0] * 765)
    img.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert torch.equal(image[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_corrupt_file_named_in_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="broken.png"):
        read_image(path)


def test_truncated_file_named_in_error(tmp_path: Path, rng: np.random.Generator) -> None:
    good = _write(tmp_path / "full.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    bad = tmp_path / "truncated.png"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.png"):
        read_image(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")


def test_save_then_read_roundtrip(tmp_path: Path) -> None:
    image = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 2, 2).expand(3, 2, 2)
    save_image(image, tmp_path / "sub" / "x.png")
    back = np.array(Image.open(tmp_path / "sub" / "x.png"))  # PIL as the independent reader
    # 0.5 * 255 = 127.5 rounds to 128, 0.2 * 255 = 51
    np.testing.assert_array_equal(back[:, :, 0], [[0, 128], [255, 51]])
    assert back.shape == (2, 2, 3)


def test_save_uint8_written_as_is(tmp_path: Path, rng: np.random.Generator) -> None:
    """Issue 14: a uint8 0..255 tensor used to come out as {0, 1}."""
    array = rng.integers(0, 256, (3, 5, 7), dtype=np.uint8)
    save_image(torch.from_numpy(array), tmp_path / "u8.png")
    with Image.open(tmp_path / "u8.png") as img:
        assert img.mode == "RGB"
        np.testing.assert_array_equal(np.array(img), array.transpose(1, 2, 0))


@pytest.mark.parametrize(("channels", "pil_mode"), [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_save_channels_give_the_image_mode(tmp_path: Path, rng: np.random.Generator,
                                           channels: int, pil_mode: str) -> None:
    array = rng.integers(0, 256, (channels, 4, 6), dtype=np.uint8)
    save_image(torch.from_numpy(array) / 255.0, tmp_path / "x.png")
    with Image.open(tmp_path / "x.png") as img:
        assert img.mode == pil_mode
        stored = np.array(img).reshape(4, 6, channels)
    np.testing.assert_array_equal(stored, array.transpose(1, 2, 0))
    # and read back unchanged with mode="keep"
    kept = decode_image(tmp_path / "x.png", mode="keep")
    np.testing.assert_array_equal(kept.numpy(), array)


def _decode_png_torchvision(path: Path) -> np.ndarray:
    """torchvision's libpng decoder: independent of rainkit's PNG writer."""
    import warnings

    from torchvision.io import ImageReadMode, decode_png

    data = torch.from_numpy(np.frombuffer(path.read_bytes(), np.uint8).copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_png(data, mode=ImageReadMode.UNCHANGED).numpy()


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_save_16bit_png_exact(tmp_path: Path, rng: np.random.Generator, channels: int) -> None:
    array = rng.integers(0, 65536, (channels, 5, 3), dtype=np.uint16)
    array[0, 0, 0], array[-1, -1, -1] = 0, 65535
    path = tmp_path / "deep.png"
    save_image(torch.from_numpy(array.astype(np.int32)).to(torch.uint16), path, bit_depth=16)
    decoded = _decode_png_torchvision(path)
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, array)
    # float input in [0, 1]: value * 65535, rounded
    save_image(torch.from_numpy(array / 65535.0), path, bit_depth=16)
    np.testing.assert_array_equal(_decode_png_torchvision(path), array)
    # 8-bit input scaled by 257 (255 -> 65535)
    save_image(torch.tensor([[[0, 1, 255]]], dtype=torch.uint8), path, bit_depth=16)
    np.testing.assert_array_equal(_decode_png_torchvision(path), [[[0, 257, 65535]]])


def test_save_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        save_image(np.zeros((3, 2, 2)), tmp_path / "x.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        save_image(torch.zeros(2, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match="shape"):
        save_image(torch.zeros(5, 2, 2), tmp_path / "x.png")
    with pytest.raises(TypeError, match="int64"):
        save_image(torch.zeros(3, 2, 2, dtype=torch.int64), tmp_path / "x.png")
    with pytest.raises(TypeError, match="bool"):
        save_image(torch.zeros(3, 2, 2, dtype=torch.bool), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\[0, 1\], got \[0, 255\]"):
        save_image(torch.tensor([0.0, 255.0]).view(1, 1, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match="NaN"):
        save_image(torch.tensor([0.5, float("nan")]).view(1, 1, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\[-0.01, 0.5\]"):
        save_image(torch.tensor([-0.01, 0.5]).view(1, 1, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match="bit_depth"):
        save_image(torch.zeros(3, 2, 2), tmp_path / "x.png", bit_depth=12)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=".png"):
        save_image(torch.zeros(3, 2, 2), tmp_path / "x.jpg", bit_depth=16)
    with pytest.raises(ValueError, match="bit_depth=16"):
        save_image(torch.zeros(3, 2, 2, dtype=torch.uint16), tmp_path / "x.png")
    with pytest.raises(ValueError, match="alpha"):
        save_image(torch.zeros(4, 2, 2), tmp_path / "x.jpg")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.jpg").exists()


def _write_png16(path: Path, array: np.ndarray) -> Path:
    """A minimal 16-bit PNG writer following the PNG spec (IHDR, one zlib IDAT), written here
    so the reading tests do not depend on rainkit: row ``y`` uses filter type ``y % 5``
    (None, Sub, Up, Average, Paeth), so every filter is exercised."""
    height, width, channels = array.shape
    bpp = 2 * channels
    raw = np.frombuffer(array.astype(">u2").tobytes(), np.uint8).reshape(height, -1)
    raw = raw.astype(np.int64)
    out = bytearray()
    for y in range(height):
        x = raw[y]
        b = raw[y - 1] if y else np.zeros_like(x)
        a = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int64), b[:-bpp]])
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        kind = y % 5
        predictor = [np.zeros_like(x), a, b, (a + b) // 2, paeth][kind]
        out += bytes([kind]) + ((x - predictor) % 256).astype(np.uint8).tobytes()

    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                     + _chunk(b"IDAT", zlib.compress(bytes(out))) + _chunk(b"IEND", b""))
    return path


@pytest.fixture(params=["torchvision", "fallback"])
def png16_decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read 16-bit PNGs with torchvision's libpng, or with rainkit's own decoder (used when
    torchvision cannot return 16-bit samples, as before 0.21)."""
    if request.param == "fallback":
        import torchvision.io

        monkeypatch.setattr(torchvision.io, "decode_png",
                            lambda data, mode=None: torch.zeros(3, 1, 1, dtype=torch.uint8))
    return request.param


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_png_read_exactly(tmp_path: Path, rng: np.random.Generator, channels: int,
                                png16_decoder: str) -> None:
    """Issue 14: 16-bit RGB PNGs were read as 8-bit (PIL decodes them to 8 bits)."""
    array = rng.integers(0, 65536, (7, 5, channels), dtype=np.uint16)
    array[3, 2] = 65535
    path = _write_png16(tmp_path / "deep.png", array)
    kept = decode_image(path, mode="keep")
    assert kept.dtype == torch.int32 and kept.shape == (channels, 7, 5)
    np.testing.assert_array_equal(kept.numpy(), array.transpose(2, 0, 1))
    rgb = read_image(path)
    expected = array[:, :, :3] if channels >= 3 else np.repeat(array[:, :, :1], 3, axis=2)
    np.testing.assert_allclose(rgb.numpy(), expected.transpose(2, 0, 1) / 65535.0, atol=1e-7)
    # values that differ only in their low byte stay different (8-bit reading merges them)
    assert len(np.unique(array)) == len(np.unique(kept.numpy()))


def test_16bit_png_read_errors(tmp_path: Path, rng: np.random.Generator,
                               png16_decoder: str) -> None:
    array = rng.integers(0, 65536, (4, 4, 3), dtype=np.uint16)
    good = _write_png16(tmp_path / "good.png", array).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[:60])
    with pytest.raises(ValueError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    broken = bytearray(good)
    broken[-20] ^= 0xFF  # inside the IDAT data or its CRC
    (tmp_path / "flipped.png").write_bytes(bytes(broken))
    with pytest.raises(ValueError, match="flipped.png"):
        read_image(tmp_path / "flipped.png")
    # a valid zlib stream whose first row has the filter type 7 (there are 5)
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)
    rows = bytes([7] + [0] * 24) + bytes(25) * 3
    bad_filter = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                  + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))
    (tmp_path / "filter.png").write_bytes(bad_filter)
    with pytest.raises(ValueError, match="filter.png.*filter type 7"):
        read_image(tmp_path / "filter.png")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_16bit_colour_tiff_refused_not_truncated(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    array = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3001
    tifffile.imwrite(tmp_path / "deep.tif", array, photometric="rgb")
    with pytest.raises(ValueError, match=r"deep.tif: a 16-bit colour TIFF"):
        read_image(tmp_path / "deep.tif")
    tifffile.imwrite(tmp_path / "gray.tif", array[:, :, 0])  # 16-bit grayscale: exact
    np.testing.assert_array_equal(decode_image(tmp_path / "gray.tif", "keep")[0].numpy(),
                                  array[:, :, 0])


def _orientation_test_image() -> np.ndarray:
    return np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path: Path, orientation: int) -> None:
    """Issue 14: phone photos came out rotated. PIL's exif_transpose is the reference."""
    from PIL import ImageOps

    img = Image.fromarray(_orientation_test_image())
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    img.save(path, exif=exif.tobytes())
    with Image.open(path) as opened:
        expected = np.array(ImageOps.exif_transpose(opened))
    image = decode_image(path)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), expected)
    if orientation >= 5:
        assert image.shape[1:] == (6, 4)  # height and width swapped


def test_unreadable_exif_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    array = _orientation_test_image()
    _write(tmp_path / "a.png", array)

    def broken(self: Image.Image) -> Image.Exif:
        raise SyntaxError("corrupt EXIF block")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    np.testing.assert_array_equal(decode_image(tmp_path / "a.png").permute(1, 2, 0).numpy(),
                                  array)


def test_exif_orientation_jpeg(tmp_path: Path) -> None:
    from PIL import ImageOps

    img = Image.fromarray(np.kron(_orientation_test_image(), np.ones((8, 8, 1), np.uint8)))
    exif = Image.Exif()
    exif[0x0112] = 6  # the usual portrait phone photo
    img.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    with Image.open(tmp_path / "phone.jpg") as opened:
        expected = np.array(ImageOps.exif_transpose(opened))
    image = decode_image(tmp_path / "phone.jpg")
    assert image.shape == (3, 48, 32)
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), expected)


def test_keep_mode_returns_stored_channels(tmp_path: Path, rng: np.random.Generator) -> None:
    gray = rng.integers(0, 256, (3, 4), dtype=np.uint8)
    rgba = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    gray_alpha = rng.integers(0, 256, (3, 4, 2), dtype=np.uint8)
    _write(tmp_path / "g.png", gray)
    _write(tmp_path / "rgba.png", rgba)
    Image.fromarray(gray_alpha).save(tmp_path / "la.png")
    assert Image.open(tmp_path / "la.png").mode == "LA"
    np.testing.assert_array_equal(decode_image(tmp_path / "g.png", "keep").numpy(), gray[None])
    np.testing.assert_array_equal(decode_image(tmp_path / "rgba.png", "keep").numpy(),
                                  rgba.transpose(2, 0, 1))
    np.testing.assert_array_equal(decode_image(tmp_path / "la.png", "keep").numpy(),
                                  gray_alpha.transpose(2, 0, 1))
    color, alpha = split_alpha(read_image(tmp_path / "rgba.png", mode="keep"))
    np.testing.assert_allclose(alpha[0].numpy(), rgba[:, :, 3] / 255.0, atol=1e-7)
    np.testing.assert_allclose(color.numpy(), rgba[:, :, :3].transpose(2, 0, 1) / 255.0,
                               atol=1e-7)
    # palette with a transparent entry keeps its alpha
    img = Image.new("P", (2, 1))
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.putpixel((1, 0), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    kept = decode_image(tmp_path / "p.png", "keep")
    assert kept[:, 0, 0].tolist() == [255, 0, 0, 0] and kept[:, 0, 1].tolist() == [0, 255, 0, 255]
    with pytest.raises(ValueError, match="mode must be one of 'RGB', 'keep'"):
        read_image(tmp_path / "g.png", mode="rgba")  # type: ignore[arg-type]


def test_alpha_roundtrip_through_split_and_save(tmp_path: Path, rng: np.random.Generator) -> None:
    """The derain recipe: process the colour, write the alpha back, exactly."""
    rgba = rng.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    _write(tmp_path / "in.png", rgba)
    color, alpha = split_alpha(read_image(tmp_path / "in.png", mode="keep"))
    assert alpha is not None
    save_image(torch.cat([color, alpha]), tmp_path / "out.png")
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "out.png")), rgba)


def test_split_alpha_checks() -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        split_alpha(np.zeros((4, 2, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        split_alpha(torch.zeros(5, 2, 2))
    color, alpha = split_alpha(torch.zeros(2, 3, 3))
    assert color.shape == (1, 3, 3) and alpha is not None and alpha.shape == (1, 3, 3)
    with pytest.raises(TypeError, match="complex"):
        split_alpha(torch.zeros(4, 2, 2, dtype=torch.complex64))
    with pytest.raises(ValueError, match="empty"):
        split_alpha(torch.zeros(4, 0, 2))


def test_path_must_be_a_path(tmp_path: Path) -> None:
    for bad in (3, None, b"x.png"):
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            read_image(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            decode_image(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            save_image(torch.zeros(3, 2, 2), bad)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_empty_file_named_in_error(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.png.*empty \(0 bytes\)"):
        read_image(tmp_path / "empty.png")


# ------------------------------------------------------------------ save_image's assumptions
@pytest.mark.parametrize(("image", "error", "match"), [
    (torch.rand(16, 16, 3), ValueError, r"got \(16, 16, 3\), which looks like \(H, W, C\): "
                                        r"pass image.permute\(2, 0, 1\)"),
    (torch.rand(16, 16), ValueError, r"a 2-D \(H, W\) image: add its channel with image\[None\]"),
    (torch.rand(1, 3, 8, 8), ValueError, r"a batch: save each image"),
    (torch.rand(3, 8, 8) * 255, ValueError, "looks like a 0..255 image: divide it by 255"),
    (torch.rand(3, 8, 8) + 0.5, ValueError, r"clamp a network output with .clamp\(0, 1\)"),
    (torch.full((3, 4, 4), float("nan")), ValueError, "image must be finite, got 48 NaN"),
    ((torch.rand(3, 8, 8) * 255).long(), TypeError, r"got torch.int64; convert 0..255 "
                                                    r"integers with .to\(torch.uint8\)"),
])
def test_save_image_says_what_went_wrong(tmp_path: Path, image: torch.Tensor, error: type,
                                         match: str) -> None:
    with pytest.raises(error, match=match):
        save_image(image, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_save_image_warns_when_the_layout_is_ambiguous(tmp_path: Path) -> None:
    hwc = torch.rand(4, 32, 3)  # (H, W, C) with 4 rows, or (C, H, W) 3 pixels wide?
    with pytest.warns(UserWarning, match=r"reads the tensor of shape \(4, 32, 3\) as \(C, H, W\): "
                                         r"4 channel\(s\), 32x3 pixels"):
        save_image(hwc, tmp_path / "a.png")
    assert decode_image(tmp_path / "a.png", mode="keep").shape == (4, 32, 3)  # as it said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_image(torch.rand(4, 8, 8), tmp_path / "rgba.png")  # RGBA: no warning
        save_image(torch.rand(3, 5, 4), tmp_path / "small.png")

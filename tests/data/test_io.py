"""read_image / save_image: every pixel format the datasets meet, and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.data import decode_image, read_image, save_image, to_float_tensor


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
    assert torch.equal(to_float_tensor(torch.tensor([0, 255], dtype=torch.uint8)),
                       torch.tensor([0.0, 1.0]))
    assert torch.equal(to_float_tensor(torch.tensor([0, 65535], dtype=torch.int32)),
                       torch.tensor([0.0, 1.0]))
    assert torch.equal(to_float_tensor(torch.tensor([True, False])), torch.tensor([1.0, 0.0]))
    assert torch.equal(to_float_tensor(torch.tensor([-0.5, 0.25, 2.0], dtype=torch.float64)),
                       torch.tensor([0.0, 0.25, 1.0]))


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
    image = torch.tensor([0.0, 0.5, 1.0, 2.0]).view(1, 2, 2).expand(3, 2, 2)
    save_image(image, tmp_path / "sub" / "x.png")
    back = read_image(tmp_path / "sub" / "x.png")
    # 0.5 * 255 = 127.5 rounds to 128; 2.0 is clamped to 1
    expected = torch.tensor([0.0, 128 / 255, 1.0, 1.0]).view(1, 2, 2).expand(3, 2, 2)
    assert torch.allclose(back, expected, atol=1e-7)


def test_save_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        save_image(np.zeros((3, 2, 2)), tmp_path / "x.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        save_image(torch.zeros(2, 2), tmp_path / "x.png")

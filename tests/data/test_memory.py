"""estimate_decoded_bytes: decoded image sizes from file headers, per pixel format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rainkit.data import estimate_decoded_bytes


def test_sizes_per_mode(tmp_path: Path) -> None:
    # hand count: 3 channels x width x height, x4 for 16-bit and float modes (4-byte values)
    files = {"rgb.png": (Image.new("RGB", (24, 20)), 3 * 24 * 20),
             "grey.png": (Image.new("L", (10, 7)), 3 * 10 * 7),
             "rgba.png": (Image.new("RGBA", (5, 5)), 3 * 5 * 5),
             "deep.png": (Image.fromarray(np.zeros((6, 4), np.uint16)), 4 * 3 * 4 * 6),
             "float.tif": (Image.fromarray(np.zeros((3, 9), np.float32)), 4 * 3 * 9 * 3),
             "photo.jpg": (Image.new("RGB", (16, 8)), 3 * 16 * 8)}
    for name, (image, _) in files.items():
        image.save(tmp_path / name)
    for name, (_, expected) in files.items():
        assert estimate_decoded_bytes([tmp_path / name]) == expected, name
    total = estimate_decoded_bytes(str(tmp_path / name) for name in files)  # any iterable
    assert total == sum(expected for _, expected in files.values())


def test_unreadable_files_are_skipped_and_empty_is_zero(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not an image")
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    assert estimate_decoded_bytes([tmp_path / "broken.png", tmp_path / "missing.png",
                                   tmp_path / "ok.png"]) == 48
    assert estimate_decoded_bytes([]) == 0


def test_single_path_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="iterable of image paths"):
        estimate_decoded_bytes(tmp_path / "a.png")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of image paths"):
        estimate_decoded_bytes("a.png")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="paths must be an iterable of image paths, got int"):
        estimate_decoded_bytes(3)  # type: ignore[arg-type]

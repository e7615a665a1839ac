"""jpeg_roundtrip: PReNet's Rain1400 JPEG step (``cv2.imwrite`` of a ``.jpg``, quality 95).

References: the JPEG standard's tables (ITU-T T.81 Annex K.1/K.2) scaled by IJG libjpeg's
``jpeg_quality_scaling`` formula, read from the encoded file's DQT and SOF0 segments; and, when
OpenCV is installed, ``cv2.imencode``/``cv2.imdecode`` themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rainkit.data import jpeg_roundtrip
from rainkit.data.jpeg import _encode

# ITU-T T.81 Annex K, Table K.1 (luminance) and K.2 (chrominance), in natural (row) order.
LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
          24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
# the zig-zag order in which DQT stores the 64 entries (T.81 Figure A.6)
ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41,
          34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30,
          37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]


def _ijg_table(base: list[int], quality: int) -> list[int]:
    """IJG ``jpeg_quality_scaling`` then ``jpeg_add_quant_table`` with force_baseline."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((b * scale + 50) // 100, 1), 255) for b in base]


def _segments(data: bytes) -> dict[int, list[bytes]]:
    """The marker segments before the scan: marker -> payloads."""
    out: dict[int, list[bytes]] = {}
    pos = 2
    while pos < len(data):
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        out.setdefault(marker, []).append(data[pos + 4:pos + 2 + length])
        if marker == 0xDA:  # start of scan
            break
        pos += 2 + length
    return out


def _image(seed: int = 0, shape=(3, 21, 34)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(1, *shape, generator=g), 3, 1, 1)[0]
    return smooth.clamp(0, 1)


@pytest.mark.parametrize("quality", [95, 75, 30])
def test_encoder_uses_opencvs_settings(quality: int) -> None:
    levels = (_image() * 255).round().to(torch.uint8)
    segments = _segments(_encode(levels, quality, "4:2:0"))
    tables = {}
    for payload in segments[0xDB]:  # DQT: may hold several tables
        pos = 0
        while pos < len(payload):
            precision, table_id = payload[pos] >> 4, payload[pos] & 15
            assert precision == 0  # 8-bit entries: baseline
            zigzagged = list(payload[pos + 1:pos + 65])
            natural = [0] * 64
            for k, index in enumerate(ZIGZAG):
                natural[index] = zigzagged[k]
            tables[table_id] = natural
            pos += 65
    assert tables[0] == _ijg_table(LUMA, quality)
    assert tables[1] == _ijg_table(CHROMA, quality)
    assert 0xC0 in segments and 0xC2 not in segments  # baseline, not progressive
    sof = segments[0xC0][0]
    components = [(sof[6 + 3 * i], sof[7 + 3 * i]) for i in range(sof[5])]
    assert components == [(1, 0x22), (2, 0x11), (3, 0x11)]  # 4:2:0: Y sampled 2x2


def test_subsampling_444_and_gray() -> None:
    levels = (_image() * 255).round().to(torch.uint8)
    sof = _segments(_encode(levels, 95, "4:4:4"))[0xC0][0]
    assert [sof[7 + 3 * i] for i in range(3)] == [0x11, 0x11, 0x11]
    gray = _segments(_encode(levels[:1], 95, "4:2:0"))[0xC0][0]
    assert gray[5] == 1


def test_same_pixels_as_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    for seed in range(3):
        levels = (_image(seed, (3, 37, 53)) * 255).round().to(torch.uint8)
        rgb = levels.permute(1, 2, 0).numpy()
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]))  # BGR
        assert ok
        expected = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1]
        got = jpeg_roundtrip(levels).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, expected)
        assert _encode(levels, 95, "4:2:0") == encoded.tobytes()  # the same file


def test_quantize_and_dtypes() -> None:
    image = _image()
    levels_floor = (image.double() * 255).floor().to(torch.uint8)
    levels_round = (image.double() * 255 + 0.5).floor().to(torch.uint8)
    floor = jpeg_roundtrip(image, quantize="floor")
    assert floor.dtype == torch.float32 and floor.shape == image.shape
    assert torch.equal((floor * 255).round().to(torch.uint8), jpeg_roundtrip(levels_floor))
    rounded = jpeg_roundtrip(image.double())
    assert rounded.dtype == torch.float64
    assert torch.equal((rounded * 255).round().to(torch.uint8), jpeg_roundtrip(levels_round))
    error = (jpeg_roundtrip(levels_round).float() - levels_round.float()).abs().mean()
    assert 0 < error < 16  # lossy (a noisy 21x34 image, chroma subsampled)
    batch = torch.stack([image, _image(1)])
    out = jpeg_roundtrip(batch)
    assert out.shape == batch.shape and torch.equal(out[1], jpeg_roundtrip(_image(1)))
    gray = jpeg_roundtrip(image[:1])
    assert gray.shape == (1, *image.shape[1:])
    best = jpeg_roundtrip(levels_round, quality=100, subsampling="4:4:4")
    assert (best.float() - levels_round.float()).abs().mean() < 1.5  # near lossless


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"image": torch.rand(3, 8, 8) * 255}, ValueError, "looks like a 0..255 image"),
    ({"image": torch.full((3, 8, 8), float("nan"))}, ValueError, "must be finite"),
    ({"image": torch.rand(8, 8, 3)}, ValueError, "channels at dim -3"),
    ({"image": torch.rand(4, 8, 8)}, ValueError, "1 or 3 channels"),
    ({"image": torch.zeros(3, 8, 8, dtype=torch.int64)}, TypeError, "uint8 or floating"),
    ({"image": np.zeros((8, 8, 3))}, TypeError, "torch.Tensor"),
    ({"quality": 0}, ValueError, "quality"),
    ({"quality": 101}, ValueError, r"quality must be in \[1, 100\]"),
    ({"quality": 95.0}, TypeError, "quality must be an int"),
    ({"subsampling": "4:1:1"}, ValueError, "subsampling must be one of"),
    ({"quantize": "trunc"}, ValueError, "quantize must be one of 'round', 'floor'"),
])
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    arguments = {"image": torch.rand(3, 8, 8), **kwargs}
    with pytest.raises(error, match=match):
        jpeg_roundtrip(**arguments)

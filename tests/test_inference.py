"""Tests of rainkit.inference: the one photo path (read, margin, tiles, scale, write)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import rainkit.inference
from rainkit.data import decode_image
from rainkit.inference import (
    Derainer,
    Photo,
    read_photo,
    resolve_scale,
    tile_margin,
    to_uint8,
    write_photo,
)
from rainkit.nn import BaselineNet, RainNet


def _random_net(channels: int = 4, num_blocks: int = 1) -> BaselineNet:
    """A BaselineNet with random weights everywhere (the library's init starts near identity)."""
    torch.manual_seed(0)
    net = BaselineNet(channels=channels, num_blocks=num_blocks).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.normal_(0, 0.3)
    return net


class MinusConstant(RainNet):
    """Removes a constant rain layer ``c``: rain = c everywhere, derained = x - c."""

    def __init__(self, c: float = 0.1) -> None:
        super().__init__()
        self.in_channels = 3
        self.c = c

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rain = torch.full_like(x, self.c)
        return x - rain, rain


# -- reading and writing ------------------------------------------------------------------------

def test_read_photo_applies_exif_orientation_and_splits_alpha(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the photo is stored sideways
    image.save(tmp_path / "phone.jpg", exif=exif, quality=100)
    photo = read_photo(tmp_path / "phone.jpg")
    assert photo.rgb.shape == (3, 6, 4) and photo.alpha is None and not photo.grayscale
    rgba = np.dstack([array, np.full((4, 6), 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    photo = read_photo(tmp_path / "rgba.png")
    assert photo.alpha is not None and photo.alpha.shape == (1, 4, 6)
    # exact 8-bit values / 255 (independent: the array written above)
    assert torch.equal(photo.rgb, torch.from_numpy(array).permute(2, 0, 1).float() / 255)


def test_write_photo_keeps_channels_and_is_atomic(tmp_path: Path) -> None:
    rgb = torch.rand(3, 5, 7)
    alpha = torch.rand(1, 5, 7)
    write_photo(Photo(rgb, alpha), tmp_path / "rgba.png")
    written = decode_image(tmp_path / "rgba.png", mode="keep")
    assert written.shape == (4, 5, 7)
    expected = np.round(np.clip(rgb.double().numpy(), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(written[:3].numpy(), expected)
    write_photo(Photo(rgb, grayscale=True), tmp_path / "gray.png")
    assert decode_image(tmp_path / "gray.png", mode="keep").shape == (1, 5, 7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gray.png", "rgba.png"]


def test_write_photo_leaves_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="must have shape"):
        write_photo(Photo(torch.rand(2, 3, 3, 3)), target)
    assert target.read_bytes() == b"old"


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("rounding", ["round", "floor"])
def test_to_uint8_in_bands_is_the_whole_image_formula(
        dtype: torch.dtype, rounding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # multiples of 1/255 (which must land on their level), values between, and out of range
    levels = torch.arange(-20, 276, dtype=torch.float64) / 255
    image = torch.cat([levels, torch.rand(2 * 3 * 7 * 9 - levels.numel(), dtype=torch.float64)
                       * 1.4 - 0.2]).view(2, 3, 7, 9).to(dtype)
    kept = image.clone()
    whole = image.to(torch.float64).clamp(0, 1).mul(255)
    expected = (whole.floor() if rounding == "floor" else whole.round()).to(torch.uint8)
    monkeypatch.setattr(rainkit.inference, "_UINT8_BAND_ELEMENTS", 2 * 3 * 9 * 2)  # 2 rows
    assert torch.equal(to_uint8(image, rounding), expected)  # type: ignore[arg-type]
    assert torch.equal(to_uint8(image[1], rounding), expected[1])  # type: ignore[arg-type]
    assert torch.equal(image, kept)  # the input is not clamped in place


@pytest.mark.parametrize(("rounding", "expected"), [
    # hand computed: 255 * [0.5, 0.999, 1.3, -0.2, 2/255] = [127.5, 254.745, 255, 0, 2]
    ("round", [128, 255, 255, 0, 2]),
    ("floor", [127, 254, 255, 0, 2]),
])
def test_to_uint8(rounding: str, expected: list[int]) -> None:
    values = torch.tensor([0.5, 0.999, 1.3, -0.2, 2 / 255], dtype=torch.float32)
    image = values.view(1, 1, 5)  # (C, H, W)
    assert to_uint8(image, rounding).flatten().tolist() == expected  # type: ignore[arg-type]
    batch = to_uint8(image[None].expand(2, 3, 1, 5), rounding)  # type: ignore[arg-type]
    assert batch.shape == (2, 3, 1, 5) and batch.dtype == torch.uint8


@pytest.mark.parametrize(("image", "rounding", "error", "match"), [
    (torch.zeros(1, 2, 3, dtype=torch.uint8), "round", TypeError, "floating-point"),
    (torch.zeros(3), "round", ValueError,
     r"image must have shape \(C, H, W\) or \(B, C, H, W\), got a 1-D tensor"),
    (torch.zeros(3, 4), "round", ValueError, "got a 2-D tensor"),
    (torch.zeros(1, 1, 2, 3, 4), "round", ValueError, "got a 5-D tensor"),
    (torch.zeros(3, 0, 4), "round", ValueError, "image must not be empty"),
    ([[[0.5]]], "round", TypeError, "image must be a torch.Tensor, got list"),
    (torch.zeros(1, 2, 3), "up", ValueError, "rounding must be one of 'round', 'floor', got 'up'"),
    (torch.zeros(1, 2, 3), 1, ValueError, "rounding must be one of 'round', 'floor', got 1"),
])
def test_to_uint8_bad_input(image: object, rounding: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        to_uint8(image, rounding)  # type: ignore[arg-type]


def test_write_photo_checks_the_alpha_channel(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="photo.alpha must be a torch.Tensor, got int"):
        write_photo(Photo(torch.rand(3, 4, 4), alpha=3), tmp_path / "a.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="photo.alpha must have 1 channels"):
        write_photo(Photo(torch.rand(3, 4, 4), alpha=torch.rand(3, 4, 4)), tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


# -- the tile margin ----------------------------------------------------------------------------

def test_tile_margin_is_half_the_receptive_field(tmp_path: Path) -> None:
    # BaselineNet(num_blocks=1): 4 stride-1 3x3 convolutions -> receptive field 9 -> margin 4
    assert tile_margin(BaselineNet(channels=4, num_blocks=1), cache_dir=tmp_path) == 4


def test_tile_margin_is_measured_once_and_cached(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = rainkit.inference.context_margin

    def counting(model: torch.nn.Module, **kwargs: object) -> int | None:
        calls.append(1)
        return real(model, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rainkit.inference, "context_margin", counting)
    first = tile_margin(BaselineNet(channels=4, num_blocks=1), cache_dir=tmp_path)
    # same architecture and configuration, other weights: read from the cache
    assert tile_margin(_random_net(), cache_dir=tmp_path) == first
    assert len(calls) == 1
    # another configuration is another record
    tile_margin(BaselineNet(channels=4, num_blocks=2), cache_dir=tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2
    # a damaged record is measured again and replaced
    record = next(tmp_path.iterdir())
    record.write_text("{not json")
    tile_margin(BaselineNet(channels=4, num_blocks=1), cache_dir=tmp_path)
    tile_margin(BaselineNet(channels=4, num_blocks=2), cache_dir=tmp_path)
    assert len(calls) == 3
    assert json.loads(record.read_text())["margin"] in (4, 6)
    # cache=False measures and writes nothing
    tile_margin(BaselineNet(channels=4, num_blocks=3), cache_dir=tmp_path, cache=False)
    assert len(calls) == 4 and len(list(tmp_path.iterdir())) == 2


def test_tile_margin_does_not_depend_on_the_weights(tmp_path: Path) -> None:
    zero = BaselineNet(channels=4, num_blocks=1)
    with torch.no_grad():
        zero.tail.weight.zero_()  # an identity-initialised network: the output ignores x
    assert tile_margin(zero, cache=False) == tile_margin(_random_net(), cache=False) == 4


def test_tile_margin_leaves_the_model_alone() -> None:
    net = _random_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    tile_margin(net, cache=False)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert next(net.parameters()).dtype == torch.float32


# -- Derainer -----------------------------------------------------------------------------------

def test_tiles_with_the_automatic_margin_equal_the_whole_image(tmp_path: Path) -> None:
    net = _random_net()
    x = torch.rand(1, 3, 37, 45)
    derain = Derainer(net, tile=16, cache_dir=tmp_path)
    with torch.no_grad():
        expected = net(x)
    assert torch.allclose(derain(x), expected, atol=1e-5)
    assert derain.margin == 4 and derain.stats.tiles == 9
    assert "9 tiles with a 4 px margin" in derain.summary()


def test_one_tile_never_measures_the_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the margin was measured for an image that fits one tile")

    monkeypatch.setattr(rainkit.inference, "tile_margin", fail)
    derain = Derainer(_random_net(), tile=64)
    assert derain(torch.rand(3, 64, 40)).shape == (3, 64, 40)
    assert Derainer(_random_net(), tile=0)(torch.rand(3, 200, 90)).shape == (3, 200, 90)


def test_a_given_margin_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rainkit.inference, "tile_margin", lambda *a, **k: 1 / 0)
    assert Derainer(_random_net(), tile=8, margin=5).margin == 5


def test_the_model_stays_where_it_was_put() -> None:
    net = _random_net()
    pointers = [p.data_ptr() for p in net.parameters()]
    derain = Derainer(net, tile=16, margin=4)
    derain(torch.rand(3, 40, 40))
    assert derain.model is net
    assert [p.data_ptr() for p in net.parameters()] == pointers  # never moved and back


def test_progress_bar_over_tiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes: list[str] = []
    derain = Derainer(_random_net(), tile=16, margin=4, progress=True, log=notes.append)
    derain(torch.rand(3, 40, 40))
    assert "tile" in capsys.readouterr().err


def test_scale_subtracts_the_enlarged_rain_layer() -> None:
    x = torch.rand(1, 3, 60, 90)
    derain = Derainer(MinusConstant(0.1), scale=3, tile=0)
    # the rain layer is 0.1 at every scale, and bicubic enlargement keeps a constant
    assert torch.allclose(derain(x), x - 0.1, atol=1e-6)


def test_scale_keeps_detail_finer_than_the_small_image() -> None:
    # a network that removes everything (rain = x): the result is the detail the small image
    # cannot hold, x - up(down(x)); a smooth image comes back (nearly) black
    class Everything(MinusConstant):
        def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.zeros_like(x), x

    smooth = torch.linspace(0, 1, 120).repeat(1, 3, 80, 1)
    assert Derainer(Everything(), scale=4, tile=0)(smooth)[..., 8:-8, 8:-8].abs().max() < 1e-2


def test_resolve_scale() -> None:
    assert resolve_scale("auto", 2000, 3000) == pytest.approx(2000 / 384)
    assert resolve_scale("auto", 500, 700) == 1.0  # below 1.5 x the training size
    assert resolve_scale(1, 10, 10) == 1.0
    with pytest.raises(ValueError, match=r"scale must be 'auto' or a number >= 1, got 0.5"):
        resolve_scale(0.5, 10, 10)
    with pytest.raises(ValueError, match="got 'big'"):
        resolve_scale("big", 10, 10)
    with pytest.raises(TypeError, match="got None"):
        resolve_scale(None, 10, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", [1.0, 2, "auto"])
@pytest.mark.parametrize(("height", "width", "error", "match"), [
    (0, 100, ValueError, "height must be >= 1, got 0"),
    (100, -1, ValueError, "width must be >= 1, got -1"),
    ("100", 100, TypeError, "height must be an int, got str"),
    (1.5, 100, TypeError, "height must be an int, got float"),
    (100, None, TypeError, "width must be an int, got NoneType"),
    (True, 100, TypeError, "height must be an int, got bool"),
])
def test_resolve_scale_checks_the_size_whatever_the_scale(scale: float | str, height: object,
                                                          width: object, error: type,
                                                          match: str) -> None:
    with pytest.raises(error, match=match):
        resolve_scale(scale, height, width)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"tile": -1}, ValueError, "tile"),
    ({"margin": "wide"}, ValueError, "margin must be 'auto' or a number"),
    ({"margin": -2}, ValueError, "margin"),
    ({"scale": 0}, ValueError, "scale must be"),
])
def test_derainer_bad_settings(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Derainer(_random_net(), **kwargs)


_NO_CUDA = "CUDA is not available on this machine"


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    # devices: checked here, before the model is moved (torch's RuntimeError came from .to())
    ({"device": "gpu0"}, ValueError, "device must be a device such as 'cpu', 'cuda' or "
                                     "'cuda:1', got 'gpu0'"),
    ({"device": -1}, TypeError, "device must be a torch.device or a str such as 'cpu'"),
    ({"device": ["cpu"]}, TypeError, "device must be a torch.device or a str"),
    ({"device": "cuda:99"}, ValueError,
     f"device 'cuda:99': ({_NO_CUDA}|this machine has \\d+ CUDA device)"),
    # progress must be a bool: "no" and 1 were truthy, None and 0 silently off
    *[({"progress": value}, TypeError, "progress must be a bool")
      for value in (None, 0, 1, "no")],
    *[({"log": value}, TypeError, "log must be a callable taking one str .* or None, got "
                                  f"{type(value).__name__}")
      for value in ("relu", 3, [print])],
    ({"cache_dir": 3}, TypeError, "cache_dir must be a str or os.PathLike"),
    ({"cache_dir": ""}, ValueError, "cache_dir must not be empty"),
])
def test_derainer_checks_device_progress_log_and_cache_dir(kwargs: dict[str, Any], error: type,
                                                           match: str) -> None:
    net = _random_net()
    with pytest.raises(error, match=match):
        Derainer(net, **kwargs)


def test_derainer_cache_dir_must_be_a_folder(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a folder")
    with pytest.raises(ValueError, match="cache_dir must be a folder, got the file"):
        Derainer(_random_net(), cache_dir=text)
    with pytest.raises(ValueError, match="cache_dir must be a folder, got the file"):
        tile_margin(_random_net(), cache_dir=text)
    # a folder that does not exist yet is created when the margin is first stored
    derain = Derainer(_random_net(), tile=16, cache_dir=tmp_path / "new" / "margins")
    derain(torch.rand(3, 40, 40))
    assert len(list((tmp_path / "new" / "margins").iterdir())) == 1


def test_derainer_accepts_devices_as_strings_and_objects() -> None:
    assert Derainer(_random_net(), device="cpu").device == torch.device("cpu")
    assert Derainer(_random_net(), device=torch.device("cpu")).device == torch.device("cpu")
    assert Derainer(_random_net()).device == torch.device("cpu")  # where the parameters are


def test_derainer_bad_input() -> None:
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        Derainer("prenet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must have shape"):
        Derainer(_random_net())(torch.rand(8, 8))


def test_derain_file_round_trip(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(0, 256, (12, 10), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "gray.png")
    derain = Derainer(MinusConstant(0.0), tile=0)
    derain.derain_file(tmp_path / "gray.png", tmp_path / "out" / "gray.png")
    # an identity network writes the grayscale photo back unchanged
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "gray.png")), array)


def test_derain_photo_refuses_non_finite_output() -> None:
    derain = Derainer(MinusConstant(float("nan")), tile=0)
    with pytest.raises(ValueError, match="not finite"):
        derain.derain_photo(Photo(torch.rand(3, 4, 4)))

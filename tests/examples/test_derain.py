"""examples/derain.py: tiled inference equals whole-image inference where it must, any size,
files and folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ._helpers import load_example, make_pairs

derain = load_example("derain")


class Pointwise(nn.Module):
    """A 1x1 convolution: every output pixel depends on its own input pixel only."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


@pytest.mark.parametrize(("height", "width", "tile", "overlap"),
                         [(37, 53, 16, 4), (16, 40, 16, 0), (10, 10, 16, 4), (64, 64, 32, 8)])
def test_tiles_blend_back_to_the_whole_image(height: int, width: int, tile: int,
                                              overlap: int) -> None:
    model = Pointwise().eval()
    image = torch.rand(3, height, width)
    with torch.no_grad():
        whole = model(image[None])[0]
    # blending weights sum to one wherever tiles overlap, so a pointwise model is unchanged
    tiled = derain.derain_tiled(model, image, tile, overlap)
    assert tiled.shape == image.shape
    assert torch.allclose(tiled, whole, atol=1e-6)


def test_every_tile_is_visited_once_per_position() -> None:
    calls: list[tuple[int, ...]] = []

    class Recorder(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape))
            return x

    derain.derain_tiled(Recorder(), torch.rand(3, 40, 70), tile=32, overlap=8)
    # rows start at 0 and 8; columns at 0, 24 and 38 (the last flush with the border)
    assert calls == [(1, 3, 32, 32)] * 6
    assert derain._starts(70, 32, 24) == [0, 24, 38]


def test_bad_overlap() -> None:
    with pytest.raises(ValueError, match="overlap"):
        derain.derain_tiled(Pointwise(), torch.rand(3, 8, 8), tile=8, overlap=8)


def _checkpoint(tmp_path: Path) -> Path:
    from rainkit.checkpoint import save_checkpoint
    from rainkit.nn import build_model

    model = build_model("baseline", channels=4, num_blocks=1)
    return save_checkpoint(tmp_path / "net.pt", model, model_name="baseline",
                           model_kwargs={"channels": 4, "num_blocks": 1})


def test_derain_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = _checkpoint(tmp_path)
    make_pairs(tmp_path / "data", 2, size=(45, 70))
    gray = tmp_path / "data" / "gray.jpg"
    Image.fromarray(np.full((30, 20), 128, np.uint8)).save(gray)
    derain.main([str(checkpoint), str(gray), "--output", str(tmp_path / "one"), "--device", "cpu"])
    assert Image.open(tmp_path / "one" / "gray.png").size == (20, 30)
    derain.main([str(checkpoint), str(tmp_path / "data" / "rainy"), "--output",
                 str(tmp_path / "many"), "--tile", "32", "--overlap", "8", "--device", "cpu"])
    outputs = sorted((tmp_path / "many").iterdir())
    assert [p.name for p in outputs] == ["p0.png", "p1.png"]
    assert all(Image.open(p).size == (70, 45) for p in outputs)
    assert "->" in capsys.readouterr().out


def test_derain_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = _checkpoint(tmp_path)
    with pytest.raises(SystemExit):
        derain.main([str(checkpoint), str(tmp_path / "missing.png")])
    assert "input not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        derain.main([str(checkpoint), str(tmp_path), "--tile", "8", "--overlap", "8"])
    assert "--overlap < --tile" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        derain.main([str(checkpoint), str(tmp_path)])
    assert "no images" in capsys.readouterr().err
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(image)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        derain.main([str(tmp_path / "none.pt"), str(image)])

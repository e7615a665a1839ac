"""examples/visualize_features.py: PNG grids of VGG19 features, and missing weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ._helpers import load_example

visualize_features = load_example("visualize_features")


def test_feature_grid_layout_and_normalisation() -> None:
    features = torch.stack([torch.full((2, 3), float(i)) for i in range(5)])
    features[:, 0, 0] = -1.0  # each map: min -1 at (0, 0), max i elsewhere (except map 0)
    grid = visualize_features.feature_grid(features, channels=5)
    # ceil(sqrt(5)) = 3 columns, 2 rows, maps 2x3 with 1-pixel gaps
    assert grid.shape == (1, 2 * 3 - 1, 3 * 4 - 1)
    assert grid[0, 0, 4] == 0.0 and grid[0, 0, 5] == 1.0  # map 1: min -> 0, max -> 1
    assert grid[0, 0, 3] == 1.0  # the gap is white
    assert grid.min() >= 0 and grid.max() <= 1


def test_saves_png_grids_with_random_weights(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8)).save(image)
    visualize_features.main([str(image), "--out_dir", str(tmp_path / "f"), "--layers", "relu1_1",
                             "relu2_1", "--channels", "9", "--vgg_weights", "none"])
    relu1 = Image.open(tmp_path / "f" / "photo_relu1_1.png")
    relu2 = Image.open(tmp_path / "f" / "photo_relu2_1.png")
    # 9 maps in a 3x3 grid: relu1_1 keeps 40x30, relu2_1 is pooled to 20x15
    assert relu1.size == (3 * 31 - 1, 3 * 41 - 1)
    assert relu2.size == (3 * 16 - 1, 3 * 21 - 1)
    assert "relu2_1" in capsys.readouterr().out


def test_missing_weights_say_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    image = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    with pytest.raises(SystemExit, match="vgg19-dcbb9e9d.pth"):
        visualize_features.main([str(image), "--out_dir", str(tmp_path / "f")])
    assert not (tmp_path / "f").exists()


def test_checkpoint_adds_the_derained_features(tmp_path: Path) -> None:
    from rainkit.checkpoint import save_checkpoint
    from rainkit.nn import UNet

    checkpoint = save_checkpoint(tmp_path / "net.pt", UNet(base_channels=4, depth=2),
                                 model_name="unet", model_kwargs={"base_channels": 4, "depth": 2})
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)).save(image)
    visualize_features.main([str(image), "--out_dir", str(tmp_path / "f"), "--layers", "relu1_1",
                             "--channels", "4", "--vgg_weights", "none", "--checkpoint",
                             str(checkpoint)])
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "photo_derained_relu1_1.png", "photo_relu1_1.png"]
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(SystemExit, match=r"empty.pt is empty \(0 bytes\)"):
        visualize_features.main([str(image), "--out_dir", str(tmp_path / "g"), "--layers",
                                 "relu1_1", "--vgg_weights", "none", "--checkpoint",
                                 str(tmp_path / "empty.pt")])

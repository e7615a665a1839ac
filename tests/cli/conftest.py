"""Tiny checkpoints and photos for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.checkpoint import save_checkpoint
from rainkit.nn import BaselineNet


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = BaselineNet(channels=4, num_blocks=1)
    return save_checkpoint(tmp_path / "net.pt", model, model_name="baseline",
                           model_kwargs={"channels": 4, "num_blocks": 1})


def write_rgb(path: Path, height: int = 20, width: int = 24, seed: int = 0) -> np.ndarray:
    array = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                   ) -> None:
    """Measured tile margins go to a temporary cache, not the user's ~/.cache/rainkit."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))

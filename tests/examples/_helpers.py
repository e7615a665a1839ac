"""Tiny datasets and checkpoints shared by the example tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (examples/ goes on ``sys.path``)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)

TINY = ["--model", "baseline", "--model_kwargs", '{"channels": 4, "num_blocks": 1}',
        "--patch_size", "16", "--batch_size", "2", "--repeat", "1", "--threads", "1",
        "--no_progress", "--lpips_weights", "none", "--device", "cpu"]


def make_pairs(root: Path, n: int, size: tuple[int, int] = (24, 20), seed: int = 0) -> Path:
    """Write ``n`` rainy/clean PNG pairs (clean + bright vertical streaks) under ``root``."""
    rng = np.random.default_rng(seed)
    for folder in ("rainy", "clean"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        clean = rng.integers(0, 180, (*size, 3), dtype=np.uint8)
        rainy = clean.copy()
        rainy[:, rng.integers(0, size[1], 3)] = 240
        Image.fromarray(clean).save(root / "clean" / f"p{i}.png")
        Image.fromarray(rainy).save(root / "rainy" / f"p{i}.png")
    return root

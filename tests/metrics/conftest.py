"""Real photos for the metric tests: scikit-image bundled images (offline), distorted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

skimage_data = pytest.importorskip("skimage.data")

RAIN_DEV = Path("/work/shared/data/rain-dev/val")


def _photo(name: str) -> np.ndarray:
    image = getattr(skimage_data, name)()
    return image[:192, :256].astype(np.float64) / 255.0


def _distort(clean: np.ndarray, kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "noise":
        return np.clip(clean + rng.normal(0.0, 0.08, clean.shape), 0.0, 1.0)
    if kind == "blur":
        return ndimage.gaussian_filter(clean, sigma=(2.0, 2.0, 0.0))
    raise ValueError(kind)


@pytest.fixture(params=["astronaut", "chelsea", "coffee"])
def photo(request: pytest.FixtureRequest) -> np.ndarray:
    """A real RGB photo, float64 in [0, 1], shape (192, 256, 3)."""
    return _photo(request.param)


@pytest.fixture(params=["noise", "blur"])
def photo_pair(request: pytest.FixtureRequest, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distorted, clean) real photos, float64 in [0, 1]."""
    return _distort(photo, request.param), photo


@pytest.fixture
def rain_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(rainy, clean) uint8 pairs from the shared dev set; skips when it is not on this machine."""
    rainy_dir, clean_dir = RAIN_DEV / "rainy", RAIN_DEV / "clean"
    if not clean_dir.is_dir() or not rainy_dir.is_dir():
        pytest.skip(f"{RAIN_DEV} not present")
    from PIL import Image

    pairs = []
    for clean_path in sorted(clean_dir.glob("*.png"))[:3]:
        rainy_path = rainy_dir / clean_path.name
        if not rainy_path.exists():
            continue
        clean = np.asarray(Image.open(clean_path).convert("RGB"))[:160, :160]
        rainy = np.asarray(Image.open(rainy_path).convert("RGB"))[:160, :160]
        pairs.append((rainy, clean))
    if not pairs:
        pytest.skip(f"no matching rainy/clean pairs in {RAIN_DEV}")
    return pairs

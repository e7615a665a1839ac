"""PairedRainDataset: layout detection, matching, crops, flips, small images and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.data import PairedRainDataset, find_pairs


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _make_two_folder(root: Path, rainy: str, clean: str, n: int = 3, size=(12, 10)) -> None:
    for i in range(n):
        value = np.uint8(10 * i)
        _save(root / rainy / f"im{i}.png", np.full((*size, 3), value + 100, np.uint8))
        _save(root / clean / f"im{i}.png", np.full((*size, 3), value, np.uint8))


@pytest.mark.parametrize(
    ("rainy", "clean", "layout"),
    [("rainy", "clean", "rainy_clean"), ("input", "target", "input_target"),
     ("rain", "norain", "rain_norain"), ("data", "gt", "data_gt")],
)
def test_two_folder_layouts_detected(tmp_path: Path, rainy: str, clean: str, layout: str) -> None:
    _make_two_folder(tmp_path, rainy, clean)
    dataset = PairedRainDataset(tmp_path)
    assert dataset.layout == layout and len(dataset) == 3
    r, c, name = dataset[1]
    assert name == "im1" and r.dtype == c.dtype == torch.float32
    assert torch.allclose(r, torch.full((3, 12, 10), 110 / 255))
    assert torch.allclose(c, torch.full((3, 12, 10), 10 / 255))
    # the explicit layout gives the same pairs
    assert PairedRainDataset(tmp_path, layout=layout).pairs == dataset.pairs


def test_rain100_single_folder(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        _save(tmp_path / f"rain-{i}.png", np.full((6, 6, 3), 200, np.uint8))
        _save(tmp_path / f"norain-{i}.png", np.full((6, 6, 3), 50, np.uint8))
    dataset = PairedRainDataset(tmp_path)
    assert dataset.layout == "rain100"
    assert [name for name, _, _ in dataset.pairs] == ["1", "10", "2"]
    rainy, clean, name = dataset[0]
    assert name == "1" and rainy.mean().item() == pytest.approx(200 / 255)
    assert clean.mean().item() == pytest.approx(50 / 255)


def test_mixed_extensions_pair_by_stem(tmp_path: Path) -> None:
    _save(tmp_path / "rainy" / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "clean" / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert [n for n, _, _ in find_pairs(tmp_path)] == ["a"]


def test_unmatched_files_listed(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=2)
    _save(tmp_path / "rainy" / "lonely.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "clean" / "orphan.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="unmatched") as info:
        PairedRainDataset(tmp_path)
    assert "lonely.png" in str(info.value) and "orphan.png" in str(info.value)


def test_unknown_and_undetectable_layout(tmp_path: Path) -> None:
    _save(tmp_path / "photo.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="cannot detect"):
        PairedRainDataset(tmp_path)
    with pytest.raises(ValueError, match="layout must be one of"):
        PairedRainDataset(tmp_path, layout="pairs")
    with pytest.raises(FileNotFoundError, match="rainy"):
        PairedRainDataset(tmp_path, layout="rainy_clean")
    with pytest.raises(FileNotFoundError):
        PairedRainDataset(tmp_path / "missing")


def test_bad_arguments(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=1)
    with pytest.raises(ValueError, match="patch_size"):
        PairedRainDataset(tmp_path, patch_size=0)
    with pytest.raises(TypeError, match="patch_size"):
        PairedRainDataset(tmp_path, patch_size=4.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="augment"):
        PairedRainDataset(tmp_path, augment="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache must be a bool, got int"):
        PairedRainDataset(tmp_path, cache=1)  # type: ignore[arg-type]


def test_cache_decodes_once_and_gives_the_same_items(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    import rainkit.data.paired as paired

    for name in ("a", "b"):
        _save(tmp_path / "rainy" / f"{name}.png", rng.integers(0, 256, (20, 24, 3), np.uint8))
        _save(tmp_path / "clean" / f"{name}.png", rng.integers(0, 256, (20, 24, 3), np.uint8))
    calls: list[str] = []
    decode = paired.decode_image
    monkeypatch.setattr(paired, "decode_image", lambda path: calls.append(path) or decode(path))

    def six_items(dataset: PairedRainDataset) -> list:
        random.seed(0)
        return [dataset[i % 2] for i in range(6)]

    expected = six_items(PairedRainDataset(tmp_path, patch_size=8, augment=True))
    assert len(calls) == 12  # every item decodes its two files
    items = six_items(PairedRainDataset(tmp_path, patch_size=8, augment=True, cache=True))
    assert len(calls) == 12 + 4  # each of the 4 files once
    for (r1, c1, n1), (r2, c2, n2) in zip(expected, items):
        assert n1 == n2 and torch.equal(r1, r2) and torch.equal(c1, c2)
        assert r2.dtype == torch.float32 and r2.is_contiguous()


def test_crop_and_flip_keep_pairs_aligned(tmp_path: Path, rng: np.random.Generator) -> None:
    array = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    _save(tmp_path / "rainy" / "x.png", array)
    _save(tmp_path / "clean" / "x.png", 255 - array)
    dataset = PairedRainDataset(tmp_path, patch_size=8, augment=True)
    for _ in range(10):
        rainy, clean, _ = dataset[0]
        assert rainy.shape == clean.shape == (3, 8, 8)
        assert torch.allclose(rainy + clean, torch.ones_like(rainy), atol=1e-6)


def test_small_images_reflect_padded(tmp_path: Path) -> None:
    array = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    _save(tmp_path / "rainy" / "s.png", array)
    _save(tmp_path / "clean" / "s.png", array)
    rainy, clean, _ = PairedRainDataset(tmp_path, patch_size=8, cache=True)[0]
    assert rainy.shape == (3, 8, 8) and torch.equal(rainy, clean)
    # reflect padding (numpy's "reflect" mode is the independent reference)
    reference = array
    while reference.shape[0] < 8 or reference.shape[1] < 8:
        ph = min(8 - reference.shape[0], reference.shape[0] - 1) if reference.shape[0] < 8 else 0
        pw = min(8 - reference.shape[1], reference.shape[1] - 1) if reference.shape[1] < 8 else 0
        reference = np.pad(reference, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    np.testing.assert_allclose(rainy.numpy(), reference.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_size_mismatch_names_pair(tmp_path: Path) -> None:
    _save(tmp_path / "rainy" / "m.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "clean" / "m.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="'m'"):
        PairedRainDataset(tmp_path)[0]


def test_corrupt_file_in_dataset_named(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=1)
    (tmp_path / "rainy" / "im0.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="im0.png"):
        PairedRainDataset(tmp_path)[0]


def test_works_with_dataloader(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=4, size=(9, 9))
    loader = torch.utils.data.DataLoader(PairedRainDataset(tmp_path, patch_size=4), batch_size=2)
    rainy, _clean, names = next(iter(loader))
    assert rainy.shape == (2, 3, 4, 4) and list(names) == ["im0", "im1"]

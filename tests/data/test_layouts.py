"""Pairing by sorted directory order (MPRNet/Restormer ``evaluate_PSNR_SSIM.m``) and the
``pair_by`` checks of :func:`rainkit.data.find_pairs`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rainkit.data import PairedRainDataset, find_pairs
from rainkit.data.layouts import sorted_order_key


def _save(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(path)


def _matlab_dir_order(folder: Path) -> list[str]:
    """The order of ``[dir('*.jpg'); dir('*.png')]``, written from MATLAB's documented
    behaviour (one listing per pattern, names in character-code order), independently of
    rainkit's key."""
    jpg = sorted(p.name for p in folder.iterdir() if p.name.endswith(".jpg"))
    png = sorted(p.name for p in folder.iterdir() if p.name.endswith(".png"))
    return jpg + png


def test_sorted_pairs_by_position_like_the_matlab_script(tmp_path: Path) -> None:
    results, target = tmp_path / "results", tmp_path / "target"
    for name in ("10.png", "2.png", "1.png", "3.jpg"):
        _save(results / f"out_{name}")
    for name in ("a10.png", "a2.png", "a1.png", "a3.jpg"):
        _save(target / name)
    pairs = find_pairs(rainy_dir=results, clean_dir=target, pair_by="sorted")
    expected = dict(zip(_matlab_dir_order(results), _matlab_dir_order(target)))
    assert {p.rainy.name: p.clean.name for p in pairs} == expected
    # character-code order, not natural order: out_10 pairs with a10, jpg files first
    assert expected["out_3.jpg"] == "a3.jpg" and expected["out_10.png"] == "a10.png"


def test_sorted_order_key_groups_jpg_then_png() -> None:
    names = ["b.png", "a.png", "z.jpg", "10.png", "2.png", "c.bmp"]
    ordered = [n for n in sorted(names, key=lambda n: sorted_order_key(Path(n)))]
    assert ordered == ["z.jpg", "10.png", "2.png", "a.png", "b.png", "c.bmp"]


def test_sorted_with_a_layout_and_in_the_dataset(tmp_path: Path) -> None:
    for i, (rainy, clean) in enumerate((("r1.png", "c1.png"), ("r2.png", "c2.png"))):
        _save(tmp_path / "input" / rainy, 100 + i)
        _save(tmp_path / "target" / clean, i)
    with pytest.raises(ValueError, match="cannot detect(.|\n)*pair_by='sorted'"):
        find_pairs(tmp_path)  # the names do not pair
    dataset = PairedRainDataset(tmp_path, pair_by="sorted")
    assert dataset.layout == "input_target"
    assert [(p.rainy.name, p.clean.name) for p in dataset.pairs] == [
        ("r1.png", "c1.png"), ("r2.png", "c2.png")]
    rainy, clean, name = dataset[1]
    assert name == "r2" and round(float(clean[0, 0, 0]) * 255) == 1


def test_sorted_refuses_unequal_counts_and_one_folder(tmp_path: Path) -> None:
    _save(tmp_path / "a" / "1.png")
    _save(tmp_path / "a" / "2.png")
    _save(tmp_path / "b" / "1.png")
    with pytest.raises(ValueError, match="as many images in both folders, got 2 in .* and 1"):
        find_pairs(rainy_dir=tmp_path / "a", clean_dir=tmp_path / "b", pair_by="sorted")
    with pytest.raises(ValueError, match="same folder"):
        find_pairs(rainy_dir=tmp_path / "a", clean_dir=tmp_path / "a", pair_by="sorted")
    with pytest.raises(ValueError, match="same folder"):
        find_pairs(tmp_path / "a", layout="rain100", pair_by="sorted")


@pytest.mark.parametrize("pair_by", ["Sorted", "natural", r"(\d+)"])
def test_other_strings_are_refused(tmp_path: Path, pair_by: str) -> None:
    _save(tmp_path / "rainy" / "1.png")
    _save(tmp_path / "clean" / "1.png")
    with pytest.raises(TypeError, match="pair_by must be 'sorted', a \\(pattern, template\\)"):
        find_pairs(tmp_path, pair_by=pair_by)  # type: ignore[arg-type]


def test_dataset_index_must_be_an_int(tmp_path: Path) -> None:
    _save(tmp_path / "rainy" / "1.png")
    _save(tmp_path / "clean" / "1.png")
    dataset = PairedRainDataset(tmp_path)
    with pytest.raises(TypeError, match="index must be an int .* got str '1'.*pair.name"):
        dataset["1"]  # type: ignore[index]
    with pytest.raises(TypeError, match="index must be an int"):
        dataset[0.0]  # type: ignore[index]
    assert dataset[np.int64(0)][2] == "1"
    with pytest.raises(IndexError):
        dataset[1]

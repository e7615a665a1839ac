"""PairedRainDataset: the standard test sets' layouts, name rules, order, errors, crops, seeds."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.data import LAYOUTS, PairedRainDataset, find_pairs


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _solid(value: int, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def _make_two_folder(root: Path, rainy: str, clean: str, n: int = 3, size=(12, 10)) -> None:
    for i in range(n):
        value = 10 * i
        _save(root / rainy / f"im{i}.png", _solid(value + 100, size))
        _save(root / clean / f"im{i}.png", _solid(value, size))


# --------------------------------------------------------------------------- the standard sets
# Each case builds a folder with the file names the dataset really uses (sources in LAYOUTS and
# in the PairedRainDataset docstring) for the ids 1, 2 and 10, rainy pixel value 100 + id and
# clean value id, and lists the (rainy, clean) relative paths expected for id 1.
def _ids(fmt: str) -> list[str]:
    return [fmt.format(i) for i in (1, 2, 10)]


CASES = {
    # MPRNet / Restormer Datasets/test/Rain100H: input/ + target/, same names
    "input_target": ([("input/{}.png", "target/{}.png")], "input_target"),
    # Restormer-derived copies of Rain100L keep the JORDER names in input/ + target/
    "input_target_rain100": ([("input/rain-{:03d}.png", "target/norain-{:03d}.png")],
                             "input_target"),
    # Rain100L/H split into rainy/ + clean/ folders
    "rainy_clean_rain100": ([("rainy/rain-{}.png", "clean/norain-{}.png")], "rainy_clean"),
    # PaddleGAN's RainTrainH: rain/1.png + norain/1.png
    "rain_norain": ([("rain/{}.png", "norain/{}.png")], "rain_norain"),
    # JORDER Rain200L/H: rain/X2/norain-1x2.png + norain/norain-1.png
    "rain200": ([("rain/X2/norain-{}x2.png", "norain/norain-{}.png")], "rain200"),
    "data_gt": ([("data/{}.png", "gt/{}.png")], "data_gt"),
    # SPA-Data real_test_1000: rain/000.png + gt/000gt.png (SPANet real_test_1000.txt)
    "spa": ([("rain/{:03d}.png", "gt/{:03d}gt.png")], "spa"),
    # PReNet test12 (Rain12): rainy/1.png + groundtruth/1.png
    "rain12": ([("rainy/{}.png", "groundtruth/{}.png")], "rain12"),
    # PReNet Rain100H test: rainy/rain-001.png with norain-001.png in the root
    "prenet_rain100": ([("rainy/rain-{:03d}.png", "norain-{:03d}.png")], "prenet_rain100"),
    # PReNet RainTrainL / flat Rain100L: rain-1.png beside norain-1.png
    "rain100": ([("rain-{}.png", "norain-{}.png")], "rain100"),
    "rain100_underscore": ([("rain_{}.png", "norain_{}.png")], "rain100"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_standard_layouts_detected_and_paired(tmp_path: Path, case: str) -> None:
    [(rainy_fmt, clean_fmt)], layout = CASES[case]
    for i in (1, 2, 10):
        _save(tmp_path / rainy_fmt.format(i), _solid(100 + i))
        _save(tmp_path / clean_fmt.format(i), _solid(i))
    dataset = PairedRainDataset(tmp_path)
    assert dataset.layout == layout and len(dataset) == 3
    # natural order (2 before 10) and the rainy file's stem as the name
    expected = [Path(rainy_fmt.format(i)).stem for i in (1, 2, 10)]
    assert [name for name, _, _ in dataset.pairs] == expected
    for (_, rainy_path, clean_path), i in zip(dataset.pairs, (1, 2, 10)):
        assert rainy_path == tmp_path / rainy_fmt.format(i)
        assert clean_path == tmp_path / clean_fmt.format(i)
    rainy, clean, name = dataset[2]
    assert name == expected[2]
    assert torch.allclose(rainy, torch.full((3, 12, 10), 110 / 255))
    assert torch.allclose(clean, torch.full((3, 12, 10), 10 / 255))
    # naming the layout gives the same pairs
    assert find_pairs(tmp_path, layout) == dataset.pairs


def test_rain1400_many_rainy_per_clean(tmp_path: Path) -> None:
    """DDN's Rain1400: rainy_image/901_1.jpg .. 901_14.jpg share ground_truth/901.jpg."""
    for image in (901, 902):
        _save(tmp_path / "ground_truth" / f"{image}.jpg", _solid(image - 900))
        for k in range(1, 15):
            _save(tmp_path / "rainy_image" / f"{image}_{k}.jpg", _solid(100 + k))
    dataset = PairedRainDataset(tmp_path)
    assert dataset.layout == "rain1400" and len(dataset) == 28
    names = [name for name, _, _ in dataset.pairs]
    assert names[:3] == ["901_1", "901_2", "901_3"] and names[13] == "901_14"
    assert names[14] == "902_1" and len(set(names)) == 28  # unique output stems
    for name, rainy_path, clean_path in dataset.pairs:
        assert rainy_path.name == f"{name}.jpg"
        assert clean_path == tmp_path / "ground_truth" / f"{name.split('_')[0]}.jpg"
    rainy, clean, name = dataset[15]
    assert name == "902_2"
    assert torch.allclose(clean, torch.full_like(clean, 2 / 255), atol=2 / 255)  # JPEG
    assert torch.allclose(rainy, torch.full_like(rainy, 102 / 255), atol=2 / 255)


@pytest.mark.parametrize(("layout", "rainy_left"), [("did_mdn", True), ("rain800", False)])
def test_side_by_side_layouts(tmp_path: Path, layout: str, rainy_left: bool) -> None:
    """DID-MDN: rainy left, clean right (pix2pix_val.py); ID-CGAN Rain800: clean left."""
    for i in (0, 1, 10):
        left, right = _solid(100 + i, (8, 6)), _solid(i, (8, 6))
        _save(tmp_path / f"{i}.png", np.concatenate([left, right], axis=1))
    with pytest.raises(ValueError, match="cannot detect"):
        PairedRainDataset(tmp_path)  # one folder of plain numbers: must be named
    dataset = PairedRainDataset(tmp_path, layout=layout)
    assert [n for n, _, _ in dataset.pairs] == ["0", "1", "10"]
    rainy, clean, name = dataset[2]
    assert name == "10" and rainy.shape == clean.shape == (3, 8, 6)
    high, low = torch.full((3, 8, 6), 110 / 255), torch.full((3, 8, 6), 10 / 255)
    assert torch.allclose(rainy, high if rainy_left else low)
    assert torch.allclose(clean, low if rainy_left else high)
    _save(tmp_path / "odd.png", _solid(0, (4, 5)))
    with pytest.raises(ValueError, match="odd width"):
        PairedRainDataset(tmp_path, layout=layout).verify()


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
    assert PairedRainDataset(tmp_path, layout=layout).pairs == dataset.pairs


def test_layouts_table_is_complete() -> None:
    assert {"rain100", "rain1400", "rain200", "spa", "did_mdn", "rain800", "input_target",
            "prenet_rain100", "rain12"} <= set(LAYOUTS)
    for spec in LAYOUTS.values():
        assert spec.datasets and spec.source
        assert spec.detect == (spec.side_by_side is None)


def test_natural_order(tmp_path: Path) -> None:
    for name in ("10", "2", "1", "a2", "a10", "b"):
        _save(tmp_path / "rainy" / f"{name}.png", _solid(0, (4, 4)))
        _save(tmp_path / "clean" / f"{name}.png", _solid(0, (4, 4)))
    assert [n for n, _, _ in find_pairs(tmp_path)] == ["1", "2", "10", "a2", "a10", "b"]


def test_mixed_extensions_pair_by_stem(tmp_path: Path) -> None:
    _save(tmp_path / "rainy" / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "clean" / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert [n for n, _, _ in find_pairs(tmp_path)] == ["a"]


# --------------------------------------------------------------------------- explicit folders
def test_explicit_folders_and_pair_by(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        _save(tmp_path / "wet" / f"{i}_rain.png", _solid(100 + i, (4, 4)))
        _save(tmp_path / "dry" / f"{i}_clean.png", _solid(i, (4, 4)))
    _save(tmp_path / "wet" / "notes.png", _solid(0, (4, 4)))  # not matched by the pattern
    dataset = PairedRainDataset(rainy_dir=tmp_path / "wet", clean_dir=tmp_path / "dry",
                                pair_by=(r"(\d+)_rain", r"\1_clean"))
    assert [n for n, _, _ in dataset.pairs] == ["1_rain", "2_rain", "10_rain"]
    assert dataset.layout is None and "rainy_dir=" in repr(dataset)
    assert torch.allclose(dataset[2][1], torch.full((3, 4, 4), 10 / 255))
    # the same with a callable, and folders relative to root
    by_callable = find_pairs(tmp_path, rainy_dir="wet", clean_dir="dry",
                             pair_by=lambda s: s.replace("rain", "clean") if "_" in s else None)
    assert by_callable == dataset.pairs
    # without pair_by no built-in rule pairs "1_rain" with "1_clean": every file is listed
    with pytest.raises(ValueError, match="rainy without clean") as info:
        find_pairs(rainy_dir=tmp_path / "wet", clean_dir=tmp_path / "dry")
    assert "1_rain.png" in str(info.value) and "1_clean.png" in str(info.value)


def test_explicit_single_folder(tmp_path: Path) -> None:
    for i in (1, 2):
        _save(tmp_path / f"img{i}_in.png", _solid(100 + i, (4, 4)))
        _save(tmp_path / f"img{i}_GT.png", _solid(i, (4, 4)))
    pairs = find_pairs(rainy_dir=tmp_path, clean_dir=tmp_path, pair_by=(r"(.+)_in", r"\1_GT"))
    assert [(n, c.name) for n, _, c in pairs] == [("img1_in", "img1_GT.png"),
                                                   ("img2_in", "img2_GT.png")]


def test_strict_false_ignores_unused_clean(tmp_path: Path) -> None:
    """PReNet's RainTrainH: 546 rainy images removed, their norain-N.png kept."""
    for i in (1, 2, 3):
        _save(tmp_path / f"norain-{i}.png", _solid(i, (4, 4)))
    for i in (1, 3):
        _save(tmp_path / f"rain-{i}.png", _solid(100 + i, (4, 4)))
    with pytest.raises(ValueError, match="norain-2.png"):
        PairedRainDataset(tmp_path)
    dataset = PairedRainDataset(tmp_path, strict=False)
    assert dataset.layout == "rain100" and [n for n, _, _ in dataset.pairs] == ["rain-1", "rain-3"]


# --------------------------------------------------------------------------- errors
def test_unmatched_files_listed(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=2)
    _save(tmp_path / "rainy" / "lonely.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "clean" / "orphan.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="unmatched") as info:
        PairedRainDataset(tmp_path)
    assert "lonely.png" in str(info.value) and "orphan.png" in str(info.value)
    assert "rainy_clean" in str(info.value)


def test_undetectable_layout_shows_what_was_found(tmp_path: Path) -> None:
    for i in range(5):
        _save(tmp_path / "photos" / f"IMG_{i}.png", _solid(0, (4, 4)))
    _save(tmp_path / "masks" / "m.png", _solid(0, (4, 4)))
    _save(tmp_path / "readme.png", _solid(0, (4, 4)))
    with pytest.raises(ValueError, match="cannot detect") as info:
        PairedRainDataset(tmp_path)
    message = str(info.value)
    assert "photos/: 5 images (IMG_0.png, IMG_1.png, IMG_2.png, ... (2 more))" in message
    assert "masks/: 1 images (m.png)" in message
    assert "1 images in the folder itself (readme.png)" in message
    for name in LAYOUTS:  # every known layout listed, side-by-side ones included
        assert repr(name) in message
    assert "pair_by=" in message


def test_unknown_layout_and_missing_folders(tmp_path: Path) -> None:
    _save(tmp_path / "photo.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="layout must be one of 'input_target', "):
        PairedRainDataset(tmp_path, layout="pairs")
    with pytest.raises(FileNotFoundError, match="rainy"):
        PairedRainDataset(tmp_path, layout="rainy_clean")
    with pytest.raises(FileNotFoundError):
        PairedRainDataset(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="rainy_dir"):
        find_pairs(rainy_dir=tmp_path / "nope", clean_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        PairedRainDataset(tmp_path / "empty", layout="did_mdn")


def test_bad_arguments(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=1)
    with pytest.raises(ValueError, match="patch_size"):
        PairedRainDataset(tmp_path, patch_size=0)
    with pytest.raises(TypeError, match="patch_size"):
        PairedRainDataset(tmp_path, patch_size=4.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="augment"):
        PairedRainDataset(tmp_path, augment="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache must be a bool or .auto., got int"):
        PairedRainDataset(tmp_path, cache=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strict"):
        PairedRainDataset(tmp_path, strict="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be >= 0"):
        PairedRainDataset(tmp_path, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        PairedRainDataset(tmp_path, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples_per_image"):
        PairedRainDataset(tmp_path, samples_per_image=0)
    with pytest.raises(ValueError, match="not both"):
        PairedRainDataset(tmp_path, layout="rainy_clean", rainy_dir="rainy", clean_dir="clean")
    with pytest.raises(ValueError, match="together"):
        PairedRainDataset(tmp_path, rainy_dir="rainy")
    with pytest.raises(ValueError, match="root"):
        PairedRainDataset()
    with pytest.raises(TypeError, match="pair_by"):
        PairedRainDataset(tmp_path, pair_by=r"(\d+)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid regex"):
        PairedRainDataset(tmp_path, pair_by=("(", "x"))
    with pytest.raises(ValueError, match="pair_by template .* fails on 'im0'"):
        PairedRainDataset(rainy_dir=tmp_path / "rainy", clean_dir=tmp_path / "clean",
                          pair_by=(r"(im)\d", r"\2"))
    with pytest.raises(TypeError, match="pair_by must return a str or None, got int"):
        PairedRainDataset(rainy_dir=tmp_path / "rainy", clean_dir=tmp_path / "clean",
                          pair_by=lambda stem: 3)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="epoch"):
        PairedRainDataset(tmp_path).set_epoch(1.0)  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        PairedRainDataset(tmp_path)[1]


def test_empty_file_fails_at_construction(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=2)
    (tmp_path / "clean" / "im1.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"im1.png: the file is empty \(0 bytes\)"):
        PairedRainDataset(tmp_path)


def test_verify_lists_every_bad_file(tmp_path: Path, rng: np.random.Generator) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=4)
    (tmp_path / "rainy" / "im0.png").write_bytes(b"garbage, not an image")
    _save(tmp_path / "clean" / "im1.png", _solid(0, (5, 5)))  # wrong size
    dataset = PairedRainDataset(tmp_path)  # headers are only read by verify()
    with pytest.raises(ValueError, match="2 problem") as info:
        dataset.verify()
    assert "im0.png" in str(info.value) and "pair 'im1'" in str(info.value)
    # a JPEG cut inside its image data has a good header: only decoding finds it
    good = tmp_path / "full.jpg"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good, quality=95)
    _make_two_folder(tmp_path / "t", "rainy", "clean", n=1, size=(64, 64))
    (tmp_path / "t" / "rainy" / "im0.png").unlink()
    (tmp_path / "t" / "rainy" / "im0.jpg").write_bytes(good.read_bytes()[:2000])
    truncated = PairedRainDataset(tmp_path / "t")
    truncated.verify()
    with pytest.raises(ValueError, match="im0.jpg"):
        truncated.verify(decode=True)


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


# --------------------------------------------------------------------------- crops and seeds
def _random_pairs(root: Path, rng: np.random.Generator, n: int = 3) -> None:
    for i in range(n):
        array = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        _save(root / "rainy" / f"p{i}.png", array)
        _save(root / "clean" / f"p{i}.png", 255 - array)


def _items(dataset, order) -> dict[int, tuple[torch.Tensor, torch.Tensor, str]]:
    return {i: dataset[i] for i in order}


def _same(a, b) -> bool:
    return a[2] == b[2] and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_seeded_items_do_not_depend_on_order_or_global_random(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Issue 12: crops and flips come from (seed, epoch, index), not from the global random."""
    _random_pairs(tmp_path, rng)
    make = lambda: PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=5)  # noqa: E731
    random.seed(1)
    first = _items(make(), [0, 1, 2])
    random.seed(2)
    torch.manual_seed(2)
    again = _items(make(), [2, 0, 1])  # another order, other global states: a resume
    assert all(_same(first[i], again[i]) for i in range(3))
    # the crops vary between items and between seeds
    assert not torch.equal(first[0][0], first[1][0])
    other = _items(PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=6), [0, 1, 2])
    assert not all(_same(first[i], other[i]) for i in range(3))


def test_set_epoch_gives_fresh_and_reproducible_crops(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    _random_pairs(tmp_path, rng)
    dataset = PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=0)
    epoch0 = _items(dataset, range(3))
    dataset.set_epoch(1)
    epoch1 = _items(dataset, range(3))
    assert not all(_same(epoch0[i], epoch1[i]) for i in range(3))
    resumed = PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=0)
    resumed.set_epoch(1)
    assert all(_same(epoch1[i], resumed[i]) for i in range(3))
    dataset.set_epoch(0)
    assert all(_same(epoch0[i], dataset[i]) for i in range(3))


def test_seeded_items_identical_with_any_worker_setup(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    _random_pairs(tmp_path, rng, n=4)
    dataset = PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=3)
    dataset.set_epoch(2)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=workers)
        return [rainy for rainy, _, _ in loader]

    single, parallel = batches(0), batches(2)
    assert len(single) == 2 and all(torch.equal(a, b) for a, b in zip(single, parallel))


def test_samples_per_image(tmp_path: Path, rng: np.random.Generator) -> None:
    _random_pairs(tmp_path, rng, n=2)
    dataset = PairedRainDataset(tmp_path, patch_size=8, seed=0, samples_per_image=3)
    assert len(dataset) == 6
    names = [dataset[i][2] for i in range(6)]
    assert names == ["p0", "p1"] * 3
    assert not torch.equal(dataset[0][0], dataset[2][0])  # same pair, another crop


def test_cache_decodes_once_and_gives_the_same_items(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rainkit.data.paired as paired

    _random_pairs(tmp_path, rng, n=2)
    calls: list[str] = []
    decode = paired.decode_image
    monkeypatch.setattr(paired, "decode_image", lambda path: calls.append(path) or decode(path))

    def six_items(dataset: PairedRainDataset) -> list:
        random.seed(0)  # seed=None: the global random module
        return [dataset[i % 2] for i in range(6)]

    expected = six_items(PairedRainDataset(tmp_path, patch_size=8, augment=True))
    assert len(calls) == 12  # every item decodes its two files
    items = six_items(PairedRainDataset(tmp_path, patch_size=8, augment=True, cache=True))
    assert len(calls) == 12 + 4  # each of the 4 files once
    for (r1, c1, n1), (r2, c2, n2) in zip(expected, items):
        assert n1 == n2 and torch.equal(r1, r2) and torch.equal(c1, c2)
        assert r2.dtype == torch.float32 and r2.is_contiguous()
    seeded = [PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=1, cache=c)[1]
              for c in (False, True)]
    assert _same(*seeded)


def test_crop_and_flip_keep_pairs_aligned(tmp_path: Path, rng: np.random.Generator) -> None:
    _random_pairs(tmp_path, rng, n=1)
    dataset = PairedRainDataset(tmp_path, patch_size=8, augment=True, seed=0)
    for epoch in range(10):
        dataset.set_epoch(epoch)
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


def test_works_with_dataloader(tmp_path: Path) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=4, size=(9, 9))
    loader = torch.utils.data.DataLoader(PairedRainDataset(tmp_path, patch_size=4), batch_size=2)
    rainy, _clean, names = next(iter(loader))
    assert rainy.shape == (2, 3, 4, 4) and list(names) == ["im0", "im1"]


def test_folder_arguments_must_be_paths(tmp_path: Path) -> None:
    for bad in (3, 1.5, ["a"]):
        with pytest.raises(TypeError, match="root must be a str or os.PathLike"):
            find_pairs(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="root must be a str or os.PathLike"):
            PairedRainDataset(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="rainy_dir must be a str or os.PathLike"):
            find_pairs(tmp_path, rainy_dir=bad, clean_dir="clean")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="clean_dir must be a str or os.PathLike"):
            find_pairs(rainy_dir=tmp_path, clean_dir=bad)  # type: ignore[arg-type]


def test_cache_auto_decides_from_the_decoded_size(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _make_two_folder(tmp_path, "rainy", "clean", n=3, size=(12, 10))
    size = 3 * 2 * 3 * 12 * 10  # 3 pairs, 2 files each, 8-bit RGB, read from the headers
    monkeypatch.setattr(PairedRainDataset, "auto_cache_bytes", size)
    assert PairedRainDataset(tmp_path, cache="auto").cache is True
    monkeypatch.setattr(PairedRainDataset, "auto_cache_bytes", size - 1)
    dataset = PairedRainDataset(tmp_path, cache="auto")
    assert dataset.cache is False
    dataset[0]
    assert not dataset._decoded  # nothing kept
    assert PairedRainDataset(tmp_path, cache=True).cache is True
    with pytest.raises(TypeError, match="cache must be a bool or 'auto', got 'yes'"):
        PairedRainDataset(tmp_path, cache="yes")  # type: ignore[arg-type]

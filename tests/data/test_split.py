"""split_indices (a seeded random hold-out of one folder's pairs, with repeated samples) and
train_val_datasets (training patches and validation pairs from folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rainkit.data import TrainValData, split_indices, train_val_datasets


@pytest.mark.parametrize(("num_pairs", "fraction", "repeat", "n_val"),
                         [(10, 0.1, 1, 1), (10, 0.25, 3, 2), (56, 0.1, 32, 6), (2, 0.5, 4, 1),
                          (3, 0.99, 2, 2), (4, 0.01, 1, 1)])
def test_every_pair_lands_on_one_side(num_pairs: int, fraction: float, repeat: int,
                                      n_val: int) -> None:
    train, val = split_indices(num_pairs, fraction, seed=3, samples_per_image=repeat)
    assert len(val) == n_val and val == sorted(val)
    train_pairs = {i % num_pairs for i in train}
    assert train_pairs.isdisjoint(val) and train_pairs | set(val) == set(range(num_pairs))
    # every sample k of every training pair p, as item p + k * num_pairs, exactly once
    assert sorted(train) == sorted(p + k * num_pairs for k in range(repeat) for p in train_pairs)
    assert max(train) < num_pairs * repeat


def test_held_out_pairs_follow_numpys_seeded_permutation() -> None:
    order = np.random.default_rng(7).permutation(20)  # the documented draw
    train, val = split_indices(20, 0.2, seed=7, samples_per_image=2)
    assert val == sorted(order[:4].tolist())
    assert train == [*order[4:].tolist(), *(order[4:] + 20).tolist()]
    assert split_indices(20, 0.2, seed=7, samples_per_image=2) == (train, val)
    assert split_indices(20, 0.2, seed=8)[1] != val


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_pairs must be >= 2.*got 1"):
        split_indices(1, 0.5)
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\), got 1.0"):
        split_indices(5, 1.0)
    with pytest.raises(ValueError, match="val_fraction must be a finite number"):
        split_indices(5, float("nan"))
    with pytest.raises(TypeError, match="num_pairs must be an int"):
        split_indices(5.0, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples_per_image must be >= 1"):
        split_indices(5, 0.1, samples_per_image=0)


# --------------------------------------------------------------------------- train_val_datasets
def _pairs(root: Path, n: int, size: tuple[int, int] = (20, 24)) -> Path:
    for folder in ("rainy", "clean"):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((*size, 3), 10 * i, np.uint8)).save(root / folder / f"{i}.png")
    return root


def test_validation_from_val_dir_then_sibling(tmp_path: Path) -> None:
    train_dir, sibling, other = (_pairs(tmp_path / n, k) for n, k in
                                 (("train", 3), ("val", 2), ("other", 1)))
    data = train_val_datasets(train_dir, other, patch_size=8, samples_per_image=2, seed=1)
    assert isinstance(data, TrainValData) and data.train is data.patches
    assert len(data.train) == 6 and len(data.val) == 1 and data.val.patch_size is None
    assert data.train[0][0].shape == (3, 8, 8) and data.val[0][0].shape == (3, 20, 24)
    assert data.description == (f"train {train_dir} (3 pairs), validation {other}; "
                                "image cache on")
    found = train_val_datasets(train_dir, patch_size=8)  # <data_dir>/../val
    assert len(found.val) == 2 and f"validation {sibling}" in found.description
    off = train_val_datasets(train_dir, patch_size=8, cache=False)
    assert off.patches.cache is False and off.description.endswith("image cache off")


def test_split_never_trains_on_a_held_out_pair(tmp_path: Path) -> None:
    root = _pairs(tmp_path / "only", 5)
    data = train_val_datasets(root, val_split=0.4, patch_size=8, samples_per_image=3, seed=2)
    held_out = {name for *_, name in (data.val[i] for i in range(len(data.val)))}
    trained = {data.train[i][2] for i in range(len(data.train))}
    assert len(held_out) == 2 and len(trained) == 3 and held_out.isdisjoint(trained)
    assert len(data.train) == 9 and data.val[0][0].shape == (3, 20, 24)  # whole images
    assert data.description.startswith(f"{root}: 3 training, 2 validation pairs (split)")
    again = train_val_datasets(root, val_split=0.4, patch_size=8, samples_per_image=3, seed=2)
    assert [again.val[i][2] for i in range(2)] == [data.val[i][2] for i in range(2)]


def test_train_val_datasets_errors(tmp_path: Path) -> None:
    one = _pairs(tmp_path / "one", 1)
    with pytest.raises(ValueError, match="holds 1 pair and there is no validation folder"):
        train_val_datasets(one)
    with pytest.raises(ValueError, match=r"val_split must be in \(0, 1\), got 1.5"):
        train_val_datasets(one, one, val_split=1.5)
    with pytest.raises(TypeError, match="data_dir must be a str or os.PathLike"):
        train_val_datasets(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        train_val_datasets(tmp_path / "missing")

"""split_indices: a seeded random hold-out of one folder's pairs, with repeated samples."""

from __future__ import annotations

import numpy as np
import pytest

from rainkit.data import split_indices


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

"""Holding out part of one folder's pairs for validation, reproducibly."""

from __future__ import annotations

import numpy as np

from rainkit._validation import check_int, check_real

__all__ = ["split_indices"]


def split_indices(
    num_pairs: int, val_fraction: float, *, seed: int = 0, samples_per_image: int = 1
) -> tuple[list[int], list[int]]:
    r"""Split the pairs of one dataset into training and validation items at random.

    ``n_val = min(max(1, round(val_fraction * num_pairs)), num_pairs - 1)`` pairs are held out:
    the first ``n_val`` of a permutation drawn by ``numpy.random.default_rng(seed)``, the same
    for every run with that seed. Both sides always get at least one pair. For a training
    dataset with ``samples_per_image`` items per pair, item ``p + k * num_pairs`` being the
    ``k``-th sample of pair ``p`` (as :class:`PairedRainDataset` and
    :class:`SyntheticRainDataset` number them), the training indices cover every sample of
    every training pair, so no validation pair is ever trained on.

    Args:
        num_pairs: pairs in the folder (:math:`\geq 2`).
        val_fraction: fraction held out, in :math:`(0, 1)`.
        seed: seed of the permutation.
        samples_per_image: items per pair in the training dataset (:math:`\geq 1`).

    Returns:
        ``(train, val)``: indices for :class:`torch.utils.data.Subset` of the training dataset
        (``samples_per_image * (num_pairs - n_val)`` items, grouped by sample), and the sorted
        indices of the held-out pairs in a dataset with one item per pair.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``num_pairs < 2``, ``samples_per_image < 1`` or ``val_fraction`` is not
            in :math:`(0, 1)`.

    Example:
        >>> train, val = split_indices(5, 0.4, seed=0, samples_per_image=2)
        >>> val, sorted(train)
        ([2, 4], [0, 1, 3, 5, 6, 8])
    """
    num_pairs = check_int(num_pairs, "num_pairs")
    if num_pairs < 2:
        raise ValueError(f"num_pairs must be >= 2 to leave a pair on each side, got {num_pairs}")
    fraction = check_real(val_fraction, "val_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    seed = check_int(seed, "seed")
    repeat = check_int(samples_per_image, "samples_per_image", minimum=1)
    n_val = min(max(1, round(fraction * num_pairs)), num_pairs - 1)
    order = np.random.default_rng(seed).permutation(num_pairs).tolist()
    train = [p + k * num_pairs for k in range(repeat) for p in order[n_val:]]
    return train, sorted(order[:n_val])

"""Training and validation data from dataset folders: a held-out split, reproducibly."""

from __future__ import annotations

import os
from typing import Any, Literal, NamedTuple

import numpy as np
from torch.utils.data import Dataset, Subset

from rainkit._checks import check_int, check_path, check_real
from rainkit.data.paired import PairedRainDataset

__all__ = ["TrainValData", "split_indices", "train_val_datasets"]


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


class TrainValData(NamedTuple):
    """What :func:`train_val_datasets` returns."""

    #: the training items: random patches (a :class:`PairedRainDataset`, or a
    #: :class:`~torch.utils.data.Subset` of it when ``val_dir`` is a split).
    train: Dataset[Any]
    #: the validation pairs, whole images: a :class:`PairedRainDataset` or a ``Subset`` of one.
    val: Dataset[Any]
    #: the dataset that draws the training patches: call its ``set_epoch`` every epoch.
    patches: PairedRainDataset
    #: one line saying where each side came from, and whether images are cached.
    description: str


def train_val_datasets(
    data_dir: str | os.PathLike[str],
    val_dir: str | os.PathLike[str] | None = None,
    *,
    val_split: float = 0.1,
    patch_size: int = 64,
    samples_per_image: int = 1,
    seed: int = 0,
    cache: bool | Literal["auto"] = "auto",
) -> TrainValData:
    r"""Training patches and whole-image validation pairs from dataset folders.

    The validation pairs come from, in this order: ``val_dir``; the sibling folder
    ``<data_dir>/../val`` when it exists (the ``train/`` + ``val/`` arrangement of most
    benchmarks); else ``val_split`` of ``data_dir``'s pairs, held out by
    :func:`split_indices` with ``seed``, so that no held-out pair is ever trained on. Training
    items are seeded random ``patch_size`` crops with random flips, ``samples_per_image`` per
    pair and epoch (see :class:`PairedRainDataset`).

    Args:
        data_dir: the training folder (any layout :class:`PairedRainDataset` detects).
        val_dir: the validation folder, or ``None`` for the rule above.
        val_split: fraction of ``data_dir`` held out when there is no validation folder, in
            :math:`(0, 1)`.
        patch_size: side of the training crops.
        samples_per_image: training patches per pair and epoch.
        seed: seed of the crops, the flips and the split.
        cache: keep decoded images in memory (``"auto"``: each dataset that fits in
            :attr:`PairedRainDataset.auto_cache_bytes`).

    Returns:
        A :class:`TrainValData`: ``(train, val, patches, description)``.

    Raises:
        FileNotFoundError: if a folder does not exist.
        ValueError: if a folder holds no pairs (or no known layout), or ``data_dir`` holds a
            single pair and there is no validation folder to take.

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for folder in ("rainy", "clean"):
        ...     (root / folder).mkdir()
        ...     for i in range(5):
        ...         Image.new("RGB", (32, 24)).save(root / folder / f"{i}.png")
        >>> data = train_val_datasets(root, val_split=0.4, patch_size=16, samples_per_image=2)
        >>> len(data.train), len(data.val), data.patches.cache
        (6, 2, True)
        >>> data.description.endswith("3 training, 2 validation pairs (split); image cache on")
        True
    """
    data_dir = check_path(data_dir, "data_dir")
    if not 0 < check_real(val_split, "val_split") < 1:
        raise ValueError(f"val_split must be in (0, 1), got {val_split}")
    if val_dir is None:
        sibling = data_dir.parent / "val"
        if sibling.is_dir() and data_dir.resolve() != sibling.resolve():
            val_dir = sibling
    full = PairedRainDataset(data_dir, patch_size=patch_size, augment=True, cache=cache,
                             seed=seed, samples_per_image=samples_per_image)
    note = f"image cache {'on' if full.cache else 'off'}"
    if val_dir is not None:
        val = PairedRainDataset(val_dir, cache=cache)
        return TrainValData(full, val, full, f"train {data_dir} ({len(full.pairs)} pairs), "
                                             f"validation {val_dir}; {note}")
    if len(full.pairs) < 2:
        raise ValueError(f"{data_dir} holds 1 pair and there is no validation folder: pass "
                         "val_dir, or add pairs to split")
    train_items, val_items = split_indices(len(full.pairs), val_split, seed=seed,
                                           samples_per_image=samples_per_image)
    held_out = Subset(PairedRainDataset(data_dir, cache=full.cache), val_items)  # "auto" decided
    return TrainValData(Subset(full, train_items), held_out, full, (
        f"{data_dir}: {len(full.pairs) - len(val_items)} training, {len(val_items)} validation "
        f"pairs (split); {note}"))

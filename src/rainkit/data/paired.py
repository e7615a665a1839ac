"""Paired rainy/clean image datasets read from the folder layouts in common use."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch.utils.data import Dataset

from rainkit._validation import check_choice, check_int
from rainkit.data.io import IMAGE_EXTENSIONS, decode_image, to_float_tensor
from rainkit.data.transforms import paired_random_crop, paired_random_flip

__all__ = ["LAYOUTS", "PairedRainDataset", "find_pairs"]

#: Two-folder layouts: name -> (rainy folder, clean folder). ``"rain100"`` is the one-folder
#: layout of Rain100L/Rain200L where ``rain-N.png`` sits beside ``norain-N.png``.
LAYOUTS: dict[str, tuple[str, str]] = {
    "rainy_clean": ("rainy", "clean"),
    "input_target": ("input", "target"),
    "rain_norain": ("rain", "norain"),
    "data_gt": ("data", "gt"),
}
_ONE_FOLDER = "rain100"
_RAIN100 = re.compile(r"^(no)?rain[-_](.+)$", re.IGNORECASE)


def _images(folder: Path) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.stem in by_stem:
            raise ValueError(
                f"two images share the name {path.stem!r} in {folder}: {by_stem[path.stem].name} "
                f"and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


def _detect(root: Path) -> str:
    for name, (rainy, clean) in LAYOUTS.items():
        if (root / rainy).is_dir() and (root / clean).is_dir():
            return name
    if any(_RAIN100.match(p.stem) for p in root.iterdir() if p.is_file()):
        return _ONE_FOLDER
    folders = ", ".join(f"{r}/ + {c}/" for r, c in LAYOUTS.values())
    raise ValueError(
        f"cannot detect the dataset layout of {root}: expected sub-folders {folders}, or "
        f"rain-N.png beside norain-N.png files"
    )


def _unmatched_error(root: Path, only_rainy: list[str], only_clean: list[str]) -> ValueError:
    lines = [f"unmatched files in {root}:"]
    if only_rainy:
        lines.append(f"  rainy without clean ({len(only_rainy)}): " + ", ".join(only_rainy))
    if only_clean:
        lines.append(f"  clean without rainy ({len(only_clean)}): " + ", ".join(only_clean))
    return ValueError("\n".join(lines))


def find_pairs(
    root: str | os.PathLike[str], layout: str | None = None
) -> list[tuple[str, Path, Path]]:
    """List the ``(name, rainy_path, clean_path)`` pairs of a dataset folder.

    Args:
        root: the dataset folder.
        layout: one of :data:`LAYOUTS`' keys or ``"rain100"``; ``None`` detects it.

    Returns:
        The pairs, sorted by name.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: unknown or undetectable layout, no pairs, or unmatched files (all listed).

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("rain-1.png", "norain-1.png"):
        ...     Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / name)
        >>> [(n, r.name, c.name) for n, r, c in find_pairs(root)]
        [('1', 'rain-1.png', 'norain-1.png')]
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    if layout is None:
        layout = _detect(root)
    check_choice(layout, [*LAYOUTS, _ONE_FOLDER], "layout")
    if layout == _ONE_FOLDER:
        rainy: dict[str, Path] = {}
        clean: dict[str, Path] = {}
        for name, path in _images(root).items():
            match = _RAIN100.match(name)
            if match is None:
                raise ValueError(
                    f"file {path} in the rain100 layout must be named rain-N or norain-N"
                )
            (clean if match.group(1) else rainy)[match.group(2)] = path
    else:
        rainy_dir, clean_dir = (root / d for d in LAYOUTS[layout])
        for folder in (rainy_dir, clean_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"layout {layout!r} needs the folder {folder}")
        rainy, clean = _images(rainy_dir), _images(clean_dir)
    only_rainy = sorted(str(rainy[k].name) for k in rainy.keys() - clean.keys())
    only_clean = sorted(str(clean[k].name) for k in clean.keys() - rainy.keys())
    if only_rainy or only_clean:
        raise _unmatched_error(root, only_rainy, only_clean)
    if not rainy:
        raise ValueError(f"no image pairs found in {root} (layout {layout!r})")
    return [(name, rainy[name], clean[name]) for name in sorted(rainy)]


class PairedRainDataset(Dataset):
    """Rainy/clean image pairs from a folder, as float tensors in [0, 1].

    Layouts (detected in this order, or given by ``layout``): ``rainy/`` + ``clean/``,
    ``input/`` + ``target/`` (MPRNet, Restormer), ``rain/`` + ``norain/``, ``data/`` + ``gt/``,
    each pairing files with the same stem, and ``"rain100"``: one folder where ``rain-N.png``
    sits beside ``norain-N.png`` (Rain100L, Rain200L). Files are read with
    :func:`~rainkit.data.read_image`, so grayscale, RGBA, 16-bit PNG and JPEG all work.

    With ``patch_size``, every item is a random ``patch_size`` crop taken at the same place in
    both images; images smaller than the patch are **reflect-padded** on the bottom and right
    first (never skipped). With ``augment``, the pair is also flipped horizontally and
    vertically, each with probability 1/2. Randomness comes from Python's :mod:`random`, which
    :class:`~torch.utils.data.DataLoader` seeds per worker. Crops are taken before the pixels
    are converted to float, so only the patch is converted.

    With ``cache``, each pair is decoded once, on its first read, and kept in memory in its
    stored integer type (:func:`~rainkit.data.decode_image`): :math:`2 \times 3 H W` bytes a
    pair for 8-bit RGB, a quarter of float32. Decoding dominates the cost of a small random
    patch, so caching makes patch training several times faster when the set fits in memory.
    Items are identical with and without the cache. With ``num_workers > 0`` every worker
    fills its own cache, which lives as long as the worker (use ``persistent_workers=True``).

    Args:
        root: the dataset folder.
        patch_size: side of the random square crop, or ``None`` for whole images.
        augment: random flips.
        layout: ``"rainy_clean"``, ``"input_target"``, ``"rain_norain"``, ``"data_gt"``,
            ``"rain100"``, or ``None`` to detect it.
        cache: keep decoded images in memory after their first read.

    Returns:
        Items ``(rainy, clean, name)``: two ``float32`` tensors of shape :math:`(3, H, W)` in
        :math:`[0, 1]` and the pair's name (the shared file stem, or ``N`` for ``rain-N``).

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for folder in ("rainy", "clean"):
        ...     (root / folder).mkdir()
        ...     Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / folder / "a.png")
        >>> dataset = PairedRainDataset(root, patch_size=4, augment=True)
        >>> rainy, clean, name = dataset[0]
        >>> len(dataset), rainy.shape, name
        (1, torch.Size([3, 4, 4]), 'a')
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        patch_size: int | None = None,
        augment: bool = False,
        layout: str | None = None,
        cache: bool = False,
    ) -> None:
        if patch_size is not None:
            check_int(patch_size, "patch_size", minimum=1)
        if not isinstance(augment, bool):
            raise TypeError(f"augment must be a bool, got {type(augment).__name__}")
        if not isinstance(cache, bool):
            raise TypeError(f"cache must be a bool, got {type(cache).__name__}")
        self.root = Path(root)
        self.patch_size = patch_size
        self.augment = augment
        self.pairs = find_pairs(self.root, layout)
        self.layout = layout if layout is not None else _detect(self.root)
        self.cache = cache
        self._decoded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def _decode_pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index in self._decoded:
            return self._decoded[index]
        name, rainy_path, clean_path = self.pairs[index]
        rainy, clean = decode_image(rainy_path), decode_image(clean_path)
        if rainy.shape != clean.shape:
            raise ValueError(
                f"pair {name!r} has different sizes: {rainy_path} is {tuple(rainy.shape[1:])}, "
                f"{clean_path} is {tuple(clean.shape[1:])}"
            )
        if self.cache:
            self._decoded[index] = (rainy, clean)
        return rainy, clean

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        rainy, clean = self._decode_pair(index)
        if self.patch_size is not None:
            if min(rainy.shape[-2:]) < self.patch_size:  # reflect padding needs floats
                rainy, clean = to_float_tensor(rainy), to_float_tensor(clean)
            rainy, clean = paired_random_crop(rainy, clean, self.patch_size)
        if self.augment:
            rainy, clean = paired_random_flip(rainy, clean)
        return (to_float_tensor(rainy).contiguous(), to_float_tensor(clean).contiguous(),
                self.pairs[index][0])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, pairs={len(self)}, "
            f"layout={self.layout!r}, patch_size={self.patch_size}, augment={self.augment}, "
            f"cache={self.cache})"
        )



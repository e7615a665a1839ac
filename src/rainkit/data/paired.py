"""The paired rainy/clean image dataset, read from any layout of :mod:`rainkit.data.layouts`."""

from __future__ import annotations

import os
import random
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from rainkit._checks import check_int, check_path
from rainkit.data.io import decode_image, exif_orientation, to_float_tensor
from rainkit.data.layouts import LAYOUTS, PairBy, resolve_pairs
from rainkit.data.memory import estimate_decoded_bytes
from rainkit.data.transforms import paired_random_crop, paired_random_flip

__all__ = ["PairedRainDataset"]


class PairedRainDataset(Dataset[tuple[torch.Tensor, torch.Tensor, str]]):
    """Rainy/clean image pairs from a folder, as float tensors in [0, 1].

    **Layouts.** ``layout=None`` tries these in order and takes the first whose folders exist
    and whose files all pair up (the side-by-side ones must be named):

    .. list-table::
       :header-rows: 1
       :widths: 18 24 58

       * - ``layout``
         - folders (rainy + clean)
         - datasets: file names (source)
       * - ``input_target``
         - ``input/`` + ``target/``
         - Rain13K, Rain100L/H, Test100, Test1200, Test2800: the same names in both (MPRNet,
           Restormer ``Datasets/test/<set>``)
       * - ``rainy_clean``
         - ``rainy/`` + ``clean/``
         - generic; also Rain100L/H split as ``rainy/rain-1.png`` + ``clean/norain-1.png``
       * - ``rain_norain``
         - ``rain/`` + ``norain/``
         - RainTrainH/L: ``1.png`` in both (PaddleGAN PReNet)
       * - ``rain200``
         - ``rain/X2/`` + ``norain/``
         - Rain200L/H, current Rain100L/H: ``norain-1x2.png`` + ``norain-1.png`` (JORDER)
       * - ``data_gt``
         - ``data/`` + ``gt/``
         - generic
       * - ``spa``
         - ``rain/`` + ``gt/``
         - SPA-Data ``real_test_1000``: ``000.png`` + ``000gt.png`` (SPANet)
       * - ``rain1400``
         - ``rainy_image/`` + ``ground_truth/``
         - Rain1400 (Test2800 as released), Rain12600: ``901_1.jpg`` .. ``901_14.jpg`` +
           ``901.jpg`` (DDN, PReNet)
       * - ``rain12``
         - ``rainy/`` + ``groundtruth/``
         - Rain12 (``test12``): ``1.png`` in both (PReNet)
       * - ``prenet_rain100``
         - ``rainy/`` + the root
         - Rain100L/H test: ``rainy/rain-001.png`` + ``norain-001.png`` (PReNet)
       * - ``rain100``
         - the root only
         - Rain100L/H, RainTrainH/L: ``rain-1.png`` beside ``norain-1.png`` (JORDER, PReNet)
       * - ``did_mdn``
         - the root, side by side
         - DID-MDN train and test (Test1200): ``0.jpg``, rainy left half, clean right half
           (DID-MDN ``pix2pix_val.py``)
       * - ``rain800``
         - the root, side by side
         - Rain800 and its Test100 as released: ``1.jpg``, clean left half, rainy right half
           (ID-CGAN, ``which_direction=BtoA``)

    **Name rules.** In a two-folder layout a rainy file finds its clean file by the first of
    these rules that pairs every rainy file: the same stem; ``rain-N`` -> ``norain-N``;
    ``NAMEx2`` -> ``NAME``; ``N_k`` -> ``N`` (many rainy images for one clean one); ``N`` ->
    ``Ngt``. In a one-folder layout a file is rainy when a rule maps it to another file
    there. Every item's ``name`` is the rainy file's stem, unique within the dataset, so it
    can name an output file; pairs come in natural order (``rain-2`` before ``rain-10``).
    Anything else: pass ``rainy_dir`` and ``clean_dir`` (absolute, or relative to ``root``)
    and, unless the stems match, ``pair_by``: a ``(pattern, template)`` tuple such as
    ``(r"(\\d+)_rain", r"\\1_clean")`` or a callable from rainy stem to clean stem.

    Rainy files without a clean one always raise, listing them; clean files without a rainy
    one raise too unless ``strict=False`` (PReNet's RainTrainH drops 546 rainy images but
    keeps their clean ones). Zero-byte files fail at construction, naming the file;
    :meth:`verify` reads every header (or decodes every file) before training starts.
    Files are read with :func:`~rainkit.data.read_image`: grayscale, RGBA, 16-bit PNG,
    EXIF-rotated JPEG all work.

    **Crops and flips.** With ``patch_size``, every item is a random ``patch_size`` crop taken
    at the same place in both images; images smaller than the patch are **reflect-padded** on
    the bottom and right first (never skipped). With ``augment``, the pair is also flipped
    horizontally and vertically, each with probability 1/2. With an integer ``seed`` the
    crop and flips of item ``i`` come from a generator seeded with ``(seed, epoch, i)``: the
    same items in any order, with any number of DataLoader workers, and after a resume; call
    :meth:`set_epoch` at the start of every epoch for fresh crops. With ``seed=None`` they come
    from Python's global :mod:`random` (seeded per worker by the DataLoader), reproducible
    only with the same worker setup and checkpointed random states.

    **Cache.** With ``cache``, each pair is decoded once, on its first read, and kept in
    memory in its stored integer type (:func:`~rainkit.data.decode_image`): :math:`2 \\times
    3 H W` bytes a pair for 8-bit RGB, a quarter of float32. Items are identical with and
    without the cache. With ``num_workers > 0`` every worker fills its own cache, which lives
    as long as the worker (use ``persistent_workers=True``).
    ``cache="auto"`` turns the cache on when the decoded images, estimated from the file headers
    alone (:func:`~rainkit.data.estimate_decoded_bytes`), take at most :attr:`auto_cache_bytes`
    (2 GiB; 16-bit and floating-point files count 4 bytes a value); :attr:`cache` then holds
    the decision, ``True`` or ``False``.

    Args:
        root: the dataset folder (optional with ``rainy_dir`` and ``clean_dir``).
        patch_size: side of the random square crop, or ``None`` for whole images.
        augment: random flips.
        layout: a key of :data:`LAYOUTS`, or ``None`` to detect it.
        cache: keep decoded images in memory after their first read: ``True``, ``False`` or
            ``"auto"`` (if they fit in :attr:`auto_cache_bytes`).
        rainy_dir: explicit rainy folder, with ``clean_dir``.
        clean_dir: explicit clean folder (may equal ``rainy_dir``).
        pair_by: name rule for explicit folders or to override the built-in rules.
        strict: raise on clean images without a rainy one.
        seed: seed of the per-item crops and flips, or ``None`` for the global ``random``.
        samples_per_image: items per pair in one epoch (each with its own crop); item ``i``
            is pair ``i % len(pairs)``.

    Returns:
        Items ``(rainy, clean, name)``: two ``float32`` tensors of shape :math:`(3, H, W)` in
        :math:`[0, 1]` and the pair's name.

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for folder in ("rainy", "clean"):
        ...     (root / folder).mkdir()
        ...     Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / folder / "a.png")
        >>> dataset = PairedRainDataset(root, patch_size=4, augment=True, seed=0)
        >>> rainy, clean, name = dataset[0]
        >>> len(dataset), rainy.shape, name, dataset.layout
        (1, torch.Size([3, 4, 4]), 'a', 'rainy_clean')
    """

    #: the largest estimated decoded size, in bytes, that ``cache="auto"`` keeps in memory.
    auto_cache_bytes: int = 2 * 2**30

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        patch_size: int | None = None,
        augment: bool = False,
        layout: str | None = None,
        cache: bool | Literal["auto"] = False,
        rainy_dir: str | os.PathLike[str] | None = None,
        clean_dir: str | os.PathLike[str] | None = None,
        pair_by: PairBy | None = None,
        strict: bool = True,
        seed: int | None = None,
        samples_per_image: int = 1,
    ) -> None:
        if patch_size is not None:
            check_int(patch_size, "patch_size", minimum=1)
        for value, name in ((augment, "augment"), (strict, "strict")):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
        if not isinstance(cache, bool) and cache != "auto":
            raise TypeError(f"cache must be a bool or 'auto', got {cache!r}" if isinstance(
                cache, str) else f"cache must be a bool or 'auto', got {type(cache).__name__}")
        if seed is not None:
            check_int(seed, "seed", minimum=0)
        check_int(samples_per_image, "samples_per_image", minimum=1)
        self.root = check_path(root, "root") if root is not None else None
        self.patch_size = patch_size
        self.augment = augment
        self.seed = seed
        self.samples_per_image = samples_per_image
        self.epoch = 0
        self.layout, self.pairs = resolve_pairs(root, layout, rainy_dir, clean_dir, pair_by, strict)
        if cache == "auto":
            files = {path for pair in self.pairs for path in (pair.rainy, pair.clean)}
            cache = estimate_decoded_bytes(files) <= self.auto_cache_bytes
        #: whether decoded images are kept in memory (``"auto"`` resolved to a bool).
        self.cache: bool = cache
        spec = LAYOUTS[self.layout] if self.layout is not None else None
        self.side_by_side = spec.side_by_side if spec is not None else None
        self._decoded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops and flips the dataset returns (with an integer seed)."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return len(self.pairs) * self.samples_per_image

    def verify(self, decode: bool = False) -> None:
        """Check every file before training: readable, an image, and the pair's sizes agree.

        Reads each file's header (fast), or decodes every file with ``decode=True`` (catches
        truncated files too, at the cost of reading the whole dataset once).

        Raises:
            ValueError: listing every bad file or pair with the reason.
        """
        if not isinstance(decode, bool):
            raise TypeError(f"decode must be a bool, got {type(decode).__name__}")
        problems: list[str] = []
        for name, rainy_path, clean_path in self.pairs:
            sizes = []
            for path in dict.fromkeys((rainy_path, clean_path)):
                try:
                    if decode:
                        sizes.append(tuple(decode_image(path).shape[1:]))
                    else:
                        if path.stat().st_size == 0:
                            raise ValueError("the file is empty (0 bytes)")
                        with Image.open(path) as img:
                            orientation = exif_orientation(img)
                            w, h = img.size
                            sizes.append((w, h) if orientation in (5, 6, 7, 8) else (h, w))
                except (OSError, ValueError, SyntaxError) as err:
                    problems.append(f"{path}: {err}")
            if len(sizes) == 2 and sizes[0] != sizes[1]:
                problems.append(f"pair {name!r}: {rainy_path.name} is {sizes[0]}, "
                                f"{clean_path.name} is {sizes[1]} (height, width)")
            if self.side_by_side and len(sizes) == 1 and sizes[0][1] % 2:
                problems.append(f"{rainy_path}: side-by-side pair of odd width {sizes[0][1]}")
        if problems:
            raise ValueError(f"{len(problems)} problem(s) in the dataset:\n  "
                             + "\n  ".join(problems))

    def _decode_pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index in self._decoded:
            return self._decoded[index]
        name, rainy_path, clean_path = self.pairs[index]
        if self.side_by_side:
            both = decode_image(rainy_path)
            width = both.shape[-1]
            if width % 2:
                raise ValueError(f"side-by-side pair {rainy_path} has an odd width {width}")
            left, right = both[..., : width // 2], both[..., width // 2:]
            rainy, clean = (left, right) if self.side_by_side == "rainy_left" else (right, left)
        else:
            rainy, clean = decode_image(rainy_path), decode_image(clean_path)
        if rainy.shape != clean.shape:
            raise ValueError(
                f"pair {name!r} has different sizes: {rainy_path} is {tuple(rainy.shape[1:])}, "
                f"{clean_path} is {tuple(clean.shape[1:])}"
            )
        if self.cache:
            self._decoded[index] = (rainy, clean)
        return rainy, clean

    def _rng(self, index: int) -> random.Random | None:
        if self.seed is None:
            return None  # the global random module
        seed = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2)
        return random.Random(int(seed[0]) << 32 | int(seed[1]))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        index = _check_index(index, len(self))
        pair_index = index % len(self.pairs)
        rainy, clean = self._decode_pair(pair_index)
        rng = self._rng(index) if (self.patch_size is not None or self.augment) else None
        if self.patch_size is not None:
            if min(rainy.shape[-2:]) < self.patch_size:  # reflect padding needs floats
                rainy, clean = to_float_tensor(rainy), to_float_tensor(clean)
            rainy, clean = paired_random_crop(rainy, clean, self.patch_size, rng)
        if self.augment:
            rainy, clean = paired_random_flip(rainy, clean, rng)
        return (to_float_tensor(rainy).contiguous(), to_float_tensor(clean).contiguous(),
                self.pairs[pair_index].name)

    def __repr__(self) -> str:
        where = (f"root={str(self.root)!r}, layout={self.layout!r}" if self.layout is not None
                 else f"rainy_dir={str(self.pairs[0].rainy.parent)!r}, "
                      f"clean_dir={str(self.pairs[0].clean.parent)!r}")
        return (
            f"{type(self).__name__}({where}, pairs={len(self.pairs)}, "
            f"patch_size={self.patch_size}, augment={self.augment}, cache={self.cache}, "
            f"seed={self.seed})"
        )


def _check_index(index: object, length: int) -> int:
    """``index`` (an int, negative from the end) as a position in ``[0, length)``."""
    if isinstance(index, str):  # users do pass names
        raise TypeError(
            f"index must be an int (a position), got str {index!r}; find a pair by name with "
            f"[pair.name for pair in dataset.pairs].index(name)"
        )
    position = check_int(index, "index")
    if not -length <= position < length:
        raise IndexError(f"index must be in [0, {length}), got {position}")
    return position % length

"""Paired rainy/clean image datasets read from the folder layouts of the standard benchmarks."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from rainkit._validation import check_choice, check_int, check_path
from rainkit.data.io import IMAGE_EXTENSIONS, _orientation, decode_image, to_float_tensor
from rainkit.data.memory import estimate_decoded_bytes
from rainkit.data.transforms import paired_random_crop, paired_random_flip

__all__ = ["LAYOUTS", "ImagePair", "Layout", "PairedRainDataset", "find_pairs"]

#: A pairing rule: a callable from the rainy file's stem to the clean file's stem (``None``
#: when the file is not a rainy image), or a ``(pattern, template)`` pair: the rainy stem must
#: match ``pattern`` in full and ``re.Match.expand(template)`` gives the clean stem.
PairBy = Callable[[str], "str | None"] | tuple[str, str]


class ImagePair(NamedTuple):
    """One rainy/clean pair: its name (the rainy file's stem) and the two files.

    For the side-by-side layouts (``"did_mdn"``, ``"rain800"``) both paths are the same file.
    """

    name: str
    rainy: Path
    clean: Path


@dataclass(frozen=True)
class Layout:
    """Where a dataset keeps its rainy and clean images.

    Attributes:
        rainy: the rainy folder, relative to the dataset root (``"."``: the root itself).
        clean: the clean folder, relative to the root.
        datasets: the datasets shipped this way.
        source: where the layout comes from.
        side_by_side: ``"rainy_left"`` or ``"clean_left"`` when each file holds both images
            side by side (rainy and clean are then the same folder), else ``None``.
        detect: whether ``layout=None`` tries this layout (side-by-side ones must be named).
    """

    rainy: str
    clean: str
    datasets: str
    source: str
    side_by_side: str | None = None
    detect: bool = True


#: The known layouts, in the order ``layout=None`` tries them; see :class:`PairedRainDataset`.
LAYOUTS: dict[str, Layout] = {
    "input_target": Layout(
        "input", "target", "Rain13K train; Rain100L/H, Test100, Test1200, Test2800 test",
        "MPRNet, Restormer (Datasets/test/<set>/input + target)"),
    "rainy_clean": Layout("rainy", "clean", "generic", "rainkit"),
    "rain_norain": Layout("rain", "norain", "RainTrainH/L (PaddleGAN), Rain100 variants",
                          "PaddleGAN PReNet, many repositories"),
    "rain200": Layout("rain/X2", "norain", "Rain200L/H, Rain100L/H (current release)",
                      "JORDER (Yang et al., CVPR 2017)"),
    "data_gt": Layout("data", "gt", "generic", "rainkit"),
    "spa": Layout("rain", "gt", "SPA-Data real_test_1000", "SPANet (Wang et al., CVPR 2019)"),
    "rain1400": Layout("rainy_image", "ground_truth", "Rain1400 / Rain12600 (14 rainy per clean)",
                       "DDN (Fu et al., CVPR 2017); PReNet"),
    "rain12": Layout("rainy", "groundtruth", "Rain12 (test12)", "PReNet"),
    "prenet_rain100": Layout("rainy", ".", "Rain100L/H test (rainy/rain-001.png, "
                             "norain-001.png)", "PReNet datasets/test/Rain100H"),
    "rain100": Layout(".", ".", "Rain100L/H, RainTrainH/L (flat rain-N.png + norain-N.png)",
                      "PReNet, JORDER"),
    "did_mdn": Layout(".", ".", "DID-MDN train and test (Test1200)", "DID-MDN (Zhang and "
                      "Patel, CVPR 2018)", side_by_side="rainy_left", detect=False),
    "rain800": Layout(".", ".", "Rain800 / Test100 (ID-CGAN release)", "ID-CGAN (Zhang et "
                      "al., 2017)", side_by_side="clean_left", detect=False),
}

#: The built-in name rules, tried in order: rainy stem -> clean stem.
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("same name", re.compile(r"(?P<k>.+)"), r"\g<k>"),
    ("rain-N / norain-N", re.compile(r"rain(?P<k>[-_].+)", re.IGNORECASE), r"norain\g<k>"),
    ("NAMEx2 / NAME", re.compile(r"(?P<k>.+)x2"), r"\g<k>"),
    ("N_k / N", re.compile(r"(?P<k>.+)_\d+"), r"\g<k>"),
    ("N / Ngt", re.compile(r"(?P<k>.+)"), r"\g<k>gt"),
)
_DIGITS = re.compile(r"(\d+)")


def _natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``rain-2`` before ``rain-10``."""
    parts = _DIGITS.split(text)
    return tuple((0, int(p), p) if i % 2 else (1, p.lower(), p) for i, p in enumerate(parts))


def _images(folder: Path) -> dict[str, Path]:
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: _natural_key(p.name),
    )
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.stem in by_stem:
            raise ValueError(
                f"two images share the name {path.stem!r} in {folder}: {by_stem[path.stem].name} "
                f"and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


def _builtin(pattern: re.Pattern[str], template: str) -> Callable[[str], str | None]:
    """The rule ``stem -> pattern.fullmatch(stem).expand(template)``, ``None`` without a match."""

    def rule(stem: str) -> str | None:
        match = pattern.fullmatch(stem)
        if match is None:
            return None
        try:
            return match.expand(template)
        except (re.error, IndexError) as err:
            raise ValueError(f"pair_by template {template!r} fails on {stem!r}: {err}") from err

    return rule


def _rule_function(pair_by: PairBy) -> Callable[[str], str | None]:
    if callable(pair_by):
        return pair_by
    if (isinstance(pair_by, tuple) and len(pair_by) == 2
            and all(isinstance(p, str) for p in pair_by)):
        try:
            pattern = re.compile(pair_by[0])
        except re.error as err:
            raise ValueError(f"pair_by pattern {pair_by[0]!r} is not a valid regex: {err}") from err
        return _builtin(pattern, pair_by[1])
    raise TypeError(
        f"pair_by must be a callable or a (pattern, template) tuple of str, got {pair_by!r}"
    )


class _Match(NamedTuple):
    pairs: list[ImagePair]
    only_rainy: list[str]
    only_clean: list[str]
    rule: str


def _match(rainy: dict[str, Path], clean: dict[str, Path], rule: Callable[[str], str | None],
           rule_name: str, same_folder: bool, skip_none: bool = False) -> _Match:
    """Pair rainy files with clean files through ``rule``; list what stays unmatched.

    ``skip_none``: a rainy file the rule maps to ``None`` is skipped (a user's ``pair_by``
    filters the rainy folder) rather than reported.
    """
    pairs: list[ImagePair] = []
    only_rainy: list[str] = []
    used: set[str] = set()
    for stem, path in rainy.items():
        target = rule(stem)
        if target is not None and not isinstance(target, str):
            raise TypeError(f"pair_by must return a str or None, got {type(target).__name__} "
                            f"for {stem!r}")
        if same_folder:
            if target is None or target == stem or target not in clean:
                continue  # not a rainy image: a clean image, or a stray file
        elif target is None and skip_none:
            continue
        elif target is None or target not in clean:
            only_rainy.append(path.name)
            continue
        pairs.append(ImagePair(stem, path, clean[target]))
        used.add(target)
    if same_folder:  # a leftover file is rainy when the rule maps it, else clean
        paired = {p.name for p in pairs} | used
        leftover = [(s, p) for s, p in rainy.items() if s not in paired]
        only_rainy = [p.name for s, p in leftover if rule(s) not in (None, s)]
        only_clean = [p.name for s, p in leftover if rule(s) in (None, s)]
    else:
        only_clean = [p.name for s, p in clean.items() if s not in used]
    return _Match(pairs, only_rainy, only_clean, rule_name)


def _pair_folders(rainy_dir: Path, clean_dir: Path, pair_by: PairBy | None) -> _Match:
    """Try the given rule, or every built-in rule, and keep the first that pairs every file."""
    same_folder = rainy_dir.resolve() == clean_dir.resolve()
    rainy = _images(rainy_dir)
    clean = rainy if same_folder else _images(clean_dir)
    if pair_by is not None:
        return _match(rainy, clean, _rule_function(pair_by), "pair_by", same_folder,
                      skip_none=True)
    results = []
    for name, pattern, template in _RULES:
        if same_folder and name == "same name":
            continue
        result = _match(rainy, clean, _builtin(pattern, template), name, same_folder)
        if result.pairs and not result.only_rainy:
            return result
        results.append(result)
    return max(results, key=lambda r: len(r.pairs))  # the first of the best, for the message


def _short_list(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _unmatched_error(where: str, result: _Match) -> ValueError:
    lines = [f"unmatched files in {where} (best name rule: {result.rule}, "
             f"{len(result.pairs)} pairs):"]
    if result.only_rainy:
        lines.append(f"  rainy without clean ({len(result.only_rainy)}): "
                     + _short_list(result.only_rainy, 20))
    if result.only_clean:
        lines.append(f"  clean without rainy ({len(result.only_clean)}): "
                     + _short_list(result.only_clean, 20))
    lines.append("  (strict=False ignores clean images without a rainy one; pair_by= gives "
                 "your own name rule)")
    return ValueError("\n".join(lines))


def _describe(root: Path) -> str:
    """What a folder holds: sub-folders with their image counts, and a few image names."""
    lines = []
    try:
        entries = sorted(root.iterdir(), key=lambda p: _natural_key(p.name))
    except OSError as err:  # pragma: no cover - unreadable folder
        return f"  (cannot list {root}: {err})"
    folders = [p for p in entries if p.is_dir()]
    images = [p.name for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    for folder in folders[:12]:
        inside = [p.name for p in sorted(folder.iterdir(), key=lambda p: _natural_key(p.name))
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        subs = [p.name + "/" for p in folder.iterdir() if p.is_dir()]
        lines.append(f"  {folder.name}/: {len(inside)} images"
                     + (f" ({_short_list(inside, 3)})" if inside else "")
                     + (f", folders {_short_list(sorted(subs), 4)}" if subs else ""))
    if len(folders) > 12:
        lines.append(f"  ... {len(folders) - 12} more folders")
    lines.append(f"  {len(images)} images in the folder itself"
                 + (f" ({_short_list(images, 5)})" if images else ""))
    return "\n".join(lines)


def _known_layouts() -> str:
    lines = []
    for name, spec in LAYOUTS.items():
        if spec.side_by_side:
            where = f"one folder of side-by-side pairs ({spec.side_by_side.replace('_', ' ')})"
        elif spec.rainy == spec.clean:
            where = "one folder"
        else:
            where = f"{spec.rainy}/ + {'the root' if spec.clean == '.' else spec.clean + '/'}"
        lines.append(f"  {name!r}: {where}; {spec.datasets}")
    return "\n".join(lines)


def _check_not_empty(pairs: list[ImagePair]) -> None:
    """Fail early, naming the file, on a zero-byte image (an interrupted download or copy)."""
    for pair in pairs:
        for path in {pair.rainy, pair.clean}:
            if path.stat().st_size == 0:
                raise ValueError(f"cannot read image file {path}: the file is empty (0 bytes)")


def find_pairs(
    root: str | os.PathLike[str] | None = None,
    layout: str | None = None,
    *,
    rainy_dir: str | os.PathLike[str] | None = None,
    clean_dir: str | os.PathLike[str] | None = None,
    pair_by: PairBy | None = None,
    strict: bool = True,
) -> list[ImagePair]:
    """List the rainy/clean pairs of a dataset folder.

    The layouts and name rules are those of :class:`PairedRainDataset` (see there).

    Args:
        root: the dataset folder (with ``rainy_dir`` and ``clean_dir``: the folder they are
            relative to, or ``None``).
        layout: a key of :data:`LAYOUTS`; ``None`` detects it.
        rainy_dir: explicit rainy folder (instead of a layout); needs ``clean_dir``.
        clean_dir: explicit clean folder; may be the same as ``rainy_dir``.
        pair_by: the name rule: a callable from rainy stem to clean stem (``None``: not a
            rainy image), or a ``(pattern, template)`` tuple such as
            ``(r"rain-(\\d+)", r"norain-\\1")``; ``None`` tries the built-in rules.
        strict: raise when a clean image has no rainy image (rainy images without a clean
            one always raise).

    Returns:
        :class:`ImagePair` tuples ``(name, rainy, clean)`` in natural order of their names
        (``2`` before ``10``); the name is the rainy file's stem.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: an unknown or undetectable layout (the message shows what the folder
            holds and lists the layouts), no pairs, unmatched files (listed), or an empty file.

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("rain-1.png", "norain-1.png"):
        ...     Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / name)
        >>> [(n, r.name, c.name) for n, r, c in find_pairs(root)]
        [('rain-1', 'rain-1.png', 'norain-1.png')]
    """
    return _resolve(root, layout, rainy_dir, clean_dir, pair_by, strict)[1]


def _resolve(
    root: str | os.PathLike[str] | None,
    layout: str | None,
    rainy_dir: str | os.PathLike[str] | None,
    clean_dir: str | os.PathLike[str] | None,
    pair_by: PairBy | None,
    strict: bool,
) -> tuple[str | None, list[ImagePair]]:
    """``(layout, pairs)``: the layout is ``None`` for explicit folders."""
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a bool, got {type(strict).__name__}")
    if pair_by is not None:
        _rule_function(pair_by)  # type check now
    base = check_path(root, "root") if root is not None else None
    for folder, what in ((rainy_dir, "rainy_dir"), (clean_dir, "clean_dir")):
        if folder is not None:
            check_path(folder, what)
    if rainy_dir is not None or clean_dir is not None:
        if layout is not None:
            raise ValueError("give either layout or rainy_dir and clean_dir, not both")
        if rainy_dir is None or clean_dir is None:
            raise ValueError("rainy_dir and clean_dir must be given together")
        rainy_path = base / rainy_dir if base is not None else Path(rainy_dir)
        clean_path = base / clean_dir if base is not None else Path(clean_dir)
        for folder, what in ((rainy_path, "rainy_dir"), (clean_path, "clean_dir")):
            if not folder.is_dir():
                raise FileNotFoundError(f"{what} is not a folder: {folder}")
        result = _pair_folders(rainy_path, clean_path, pair_by)
        return None, _finish(f"{rainy_path} and {clean_path}", result, strict)
    if base is None:
        raise ValueError("give the dataset folder root, or rainy_dir and clean_dir")
    if not base.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {base}")
    if layout is not None:
        check_choice(layout, LAYOUTS, "layout")
        return layout, _layout_pairs(base, layout, pair_by, strict)
    layout, result = _detect(base, pair_by, strict)
    return layout, _finish(f"{base} (layout {layout!r})", result, strict)


def _finish(where: str, result: _Match, strict: bool) -> list[ImagePair]:
    if result.only_rainy or (strict and result.only_clean):
        raise _unmatched_error(where, result)
    if not result.pairs:
        raise ValueError(f"no image pairs found in {where}")
    pairs = sorted(result.pairs, key=lambda p: _natural_key(p.name))
    _check_not_empty(pairs)
    return pairs


def _layout_pairs(root: Path, layout: str, pair_by: PairBy | None,
                  strict: bool) -> list[ImagePair]:
    spec = LAYOUTS[layout]
    rainy_dir, clean_dir = root / spec.rainy, root / spec.clean
    for folder in (rainy_dir, clean_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"layout {layout!r} needs the folder {folder}")
    if spec.side_by_side:
        images = _images(rainy_dir)
        if not images:
            raise ValueError(f"no images found in {rainy_dir} (layout {layout!r})")
        pairs = [ImagePair(stem, path, path) for stem, path in images.items()]
        pairs.sort(key=lambda p: _natural_key(p.name))
        _check_not_empty(pairs)
        return pairs
    return _finish(f"{root} (layout {layout!r})", _pair_folders(rainy_dir, clean_dir, pair_by),
                   strict)


def _detect(root: Path, pair_by: PairBy | None, strict: bool) -> tuple[str, _Match]:
    """The first detectable layout whose folders exist and whose files pair up."""
    failures: list[tuple[str, _Match]] = []
    for name, spec in LAYOUTS.items():
        if not spec.detect:
            continue
        rainy_dir, clean_dir = root / spec.rainy, root / spec.clean
        if not (rainy_dir.is_dir() and clean_dir.is_dir()):
            continue
        result = _pair_folders(rainy_dir, clean_dir, pair_by)
        if result.pairs and not result.only_rainy and not (strict and result.only_clean):
            return name, result
        if result.pairs:
            failures.append((name, result))
    if failures:  # the folders of a layout are there but some files do not pair
        name, result = max(failures, key=lambda f: len(f[1].pairs))
        raise _unmatched_error(f"{root} (layout {name!r})", result)
    raise ValueError(
        f"cannot detect the dataset layout of {root}; it holds:\n{_describe(root)}\n"
        f"known layouts (layout=...):\n{_known_layouts()}\n"
        "or give the folders and a name rule: rainy_dir=..., clean_dir=..., "
        "pair_by=(r'rain-(\\d+)', r'norain-\\1')"
    )


class PairedRainDataset(Dataset):
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
        self.layout, self.pairs = _resolve(root, layout, rainy_dir, clean_dir, pair_by, strict)
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
                            orientation = _orientation(img)
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
        if not -len(self) <= index < len(self):
            raise IndexError(f"index must be in [0, {len(self)}), got {index}")
        index %= len(self)
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

"""Folder layouts of the standard deraining benchmarks, and how rainy and clean files pair up.

:func:`find_pairs` lists the pairs of a dataset folder; :class:`~rainkit.data.PairedRainDataset`
reads them. Pairing is by name (built-in rules, a regex or a callable) or, for results named
differently from their ground truth, by sorted directory order (``pair_by="sorted"``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from rainkit._checks import check_choice, check_path
from rainkit.data.io import IMAGE_EXTENSIONS

__all__ = [
    "LAYOUTS",
    "SORTED_ORDER_EXTENSIONS",
    "ImagePair",
    "Layout",
    "PairBy",
    "find_pairs",
    "natural_key",
    "resolve_pairs",
    "sorted_order_key",
]

#: A pairing rule: a callable from the rainy file's stem to the clean file's stem (``None``
#: when the file is not a rainy image), a ``(pattern, template)`` pair (the rainy stem must
#: match ``pattern`` in full and ``re.Match.expand(template)`` gives the clean stem), or
#: ``"sorted"``: the k-th rainy file with the k-th clean file in sorted directory order.
PairBy = Callable[[str], "str | None"] | tuple[str, str] | Literal["sorted"]

#: The order of ``pair_by="sorted"``: files of these suffixes first, in this order, each group
#: sorted by character code (MPRNet/Restormer ``evaluate_PSNR_SSIM.m`` lists
#: ``[dir('*.jpg'); dir('*.png')]``); other image files follow, also by character code.
SORTED_ORDER_EXTENSIONS: tuple[str, ...] = (".jpg", ".png")

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


def natural_key(text: str) -> tuple[tuple[int, int | str, str], ...]:
    """Sort key that orders embedded numbers by value: ``rain-2`` before ``rain-10``."""
    parts = _DIGITS.split(text)
    return tuple((0, int(p), p) if i % 2 else (1, p.lower(), p) for i, p in enumerate(parts))


def _images(folder: Path) -> dict[str, Path]:
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: natural_key(p.name),
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


def _rule_function(pair_by: object) -> Callable[[str], str | None]:
    """The name rule of ``pair_by`` (not ``"sorted"``, which pairs by position)."""
    if isinstance(pair_by, str):  # a lone regex is the wrong type: a rule needs a template
        raise TypeError(
            f"pair_by must be 'sorted', a (pattern, template) tuple of str or a callable, "
            f"got {pair_by!r}"
        )
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
        f"pair_by must be 'sorted', a (pattern, template) tuple of str or a callable, "
        f"got {pair_by!r}"
    )


def _check_pair_by(pair_by: object) -> None:
    """Raise now for a bad ``pair_by``, before any folder is read."""
    if not (isinstance(pair_by, str) and pair_by == "sorted"):
        _rule_function(pair_by)


def sorted_order_key(path: Path) -> tuple[int, str]:
    """Sort key of ``pair_by="sorted"``: ``.jpg`` files, then ``.png``, then other images,
    each group by the name's character codes (``10.png`` before ``2.png``), as MATLAB's
    ``[dir('*.jpg'); dir('*.png')]`` lists them; the suffix's case is ignored."""
    suffix = path.suffix.lower()
    group = (SORTED_ORDER_EXTENSIONS.index(suffix) if suffix in SORTED_ORDER_EXTENSIONS
             else len(SORTED_ORDER_EXTENSIONS))
    return group, path.name


def _pair_sorted(rainy_dir: Path, clean_dir: Path) -> _Match:
    """Pair the k-th rainy image with the k-th clean image in :func:`sorted_order_key` order."""
    if rainy_dir.resolve() == clean_dir.resolve():
        raise ValueError(
            f"pair_by='sorted' pairs two folders by position, but the rainy and clean images "
            f"are in the same folder {rainy_dir}; give a name rule instead"
        )
    rainy = sorted(_images(rainy_dir).values(), key=sorted_order_key)
    clean = sorted(_images(clean_dir).values(), key=sorted_order_key)
    if len(rainy) != len(clean):
        raise ValueError(
            f"pair_by='sorted' needs as many images in both folders, got {len(rainy)} in "
            f"{rainy_dir} and {len(clean)} in {clean_dir}"
        )
    pairs = [ImagePair(r.stem, r, c) for r, c in zip(rainy, clean)]
    return _Match(pairs, [], [], "sorted order")


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
    if pair_by == "sorted" and isinstance(pair_by, str):
        return _pair_sorted(rainy_dir, clean_dir)
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
                 "your own name rule, pair_by='sorted' pairs by sorted order)")
    return ValueError("\n".join(lines))


def _describe(root: Path) -> str:
    """What a folder holds: sub-folders with their image counts, and a few image names."""
    lines = []
    try:
        entries = sorted(root.iterdir(), key=lambda p: natural_key(p.name))
    except OSError as err:  # pragma: no cover - unreadable folder
        return f"  (cannot list {root}: {err})"
    folders = [p for p in entries if p.is_dir()]
    images = [p.name for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    for folder in folders[:12]:
        inside = [p.name for p in sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
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
            ``"sorted"`` ignores the names and pairs the k-th rainy image with the k-th clean
            one in sorted order (:func:`sorted_order_key`), as MPRNet's and Restormer's
            ``evaluate_PSNR_SSIM.m`` do; both folders must hold as many images.
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

        Results named otherwise than their ground truth, paired by position as MPRNet's
        ``evaluate_PSNR_SSIM.m`` does:

        >>> results, target = root / "results", root / "target"
        >>> for folder, name in ((results, "out_7.png"), (target, "7.png")):
        ...     folder.mkdir()
        ...     Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / name)
        >>> [(n, c.name) for n, r, c in find_pairs(rainy_dir=results, clean_dir=target,
        ...                                         pair_by="sorted")]
        [('out_7', '7.png')]
    """
    return resolve_pairs(root, layout, rainy_dir, clean_dir, pair_by, strict)[1]


def resolve_pairs(
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
        _check_pair_by(pair_by)
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
    pairs = sorted(result.pairs, key=lambda p: natural_key(p.name))
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
        pairs.sort(key=lambda p: natural_key(p.name))
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
        if pair_by == "sorted" and spec.rainy == spec.clean:
            continue  # one folder: nothing to pair by position
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
        "pair_by=(r'rain-(\\d+)', r'norain-\\1'), or pair_by='sorted' to pair the files by "
        "sorted order"
    )

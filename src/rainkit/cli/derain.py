"""``rainkit derain``: derain photos with a published model, a weight file or a checkpoint."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Literal

from rainkit.cli._common import (
    CommandError,
    add_device_argument,
    add_weights_argument,
    load_network,
    notice,
    pick_device,
    scale_argument,
)
from rainkit.data import IMAGE_EXTENSIONS

__all__ = ["output_paths", "register"]

DESCRIPTION = """\
Derain one image or every image of a folder with a published model (see 'rainkit models';
download it once with 'rainkit download NAME'), an authors' weight file (recognised by its
SHA-256 or its keys and shapes), or a checkpoint written by examples/train.py.

Outputs are 8-bit PNG files named after the inputs (values rounded to the nearest level);
grayscale stays grayscale, an alpha channel is kept, phone photos are turned upright (EXIF
orientation). Images larger than --tile run in tiles with a context margin of half the
network's receptive field, so that the result equals the whole-image result for convolutional
networks; the receptive field is measured once per architecture and cached, and never when an
image fits one tile. In a photo taken at many times the training resolution (a 3000x2000
photo against 481x321 training pairs) heavy rain leaves streaks many pixels wide that the
networks never saw: --scale auto estimates the rain at the training size and removes it at
full resolution. Keep the default (1) for fine streaks, which shrinking would erase from the
network's view (the command-line guide shows measurements of both).
Existing files are never overwritten unless --overwrite is given, and the inputs never.
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("derain", help="derain images with a published model or a "
                                 "weight file", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a published model name (e.g. prenet-rain100h), a weight "
                                      "file of a published network, or a rainkit checkpoint")
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("-o", "--output", type=Path, default=Path("derained"),
                        help="output folder (default: ./derained)")
    parser.add_argument("--tile", type=int, default=512,
                        help="tile side in pixels for large images; 0 = whole image at once "
                             "(default: 512)")
    parser.add_argument("--margin", default="auto",
                        help="context pixels around each tile: 'auto' (half the network's "
                             "receptive field, measured once and cached) or a number "
                             "(default: auto)")
    parser.add_argument("--scale", type=scale_argument, default=1.0,
                        help="'auto': estimate the rain layer on the photo shrunk so that its "
                             "short side is about 384 px (only for photos with a short side "
                             "of 576 px or more), enlarge it and subtract it at full "
                             "resolution; or a shrink factor >= 1 (default: 1, full resolution)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files")
    add_weights_argument(parser)
    add_device_argument(parser)
    parser.set_defaults(run=run)


def _collect(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise CommandError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {item}")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise CommandError(f"input not found: {item}")
    return files


def output_paths(files: list[Path], folder: Path) -> dict[Path, Path]:
    """Map each input to ``folder/<stem>.png``; inputs that share a stem (``a.jpg``, ``a.png``)
    get ``<stem>_<extension>.png`` so that no result replaces another."""
    stems: dict[str, int] = {}
    for path in files:
        stems[path.stem] = stems.get(path.stem, 0) + 1
    mapping: dict[Path, Path] = {}
    for path in files:
        name = path.stem if stems[path.stem] == 1 else f"{path.stem}_{path.suffix.lstrip('.')}"
        mapping[path] = folder / f"{name}.png"
    targets = list(mapping.values())
    if len(set(targets)) != len(targets):
        clash = sorted({str(t) for t in targets if targets.count(t) > 1})
        raise CommandError(f"several inputs would be written to the same file: {clash}; derain "
                           "them into separate folders")
    return mapping


def _margin(flag: str) -> int | Literal["auto"]:
    if flag == "auto":
        return "auto"
    try:
        value = int(flag)
    except ValueError:
        raise CommandError(f"--margin must be 'auto' or a number, got {flag!r}") from None
    if value < 0:
        raise CommandError(f"--margin must be >= 0, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rainkit.inference import Derainer, read_photo, write_photo

    if args.tile < 0:
        raise CommandError(f"--tile must be >= 0 (0 = whole image), got {args.tile}")
    margin = _margin(args.margin)
    files = _collect(args.inputs)
    targets = output_paths(files, args.output)
    sources = {p.resolve() for p in files}
    for target in targets.values():
        if target.resolve() in sources:
            raise CommandError(f"refusing to overwrite the input {target}; choose another --output")
    existing = [t for t in targets.values() if t.exists()]
    if existing and not args.overwrite:
        raise CommandError(f"{len(existing)} output file(s) exist already, e.g. {existing[0]}; "
                           "pass --overwrite to replace them or choose another --output")
    device = pick_device(args.device, args.threads)
    loaded = load_network(args.model, args.weights)
    if loaded.entry is None or loaded.entry.name != args.model:
        notice(f"{args.model}: {loaded.how}")
    family = _tiling_note(loaded)
    if family and args.tile:
        notice(family)
    derainer = Derainer(loaded.model, device=device, tile=args.tile, margin=margin,
                        scale=args.scale, progress=True, log=notice)
    start = time.perf_counter()
    failures: list[tuple[Path, str]] = []
    bar = tqdm(files, unit="image", file=sys.stderr, dynamic_ncols=True, disable=len(files) < 2)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            photo = read_photo(path)
        except (OSError, ValueError) as err:
            failures.append((path, f"cannot read the image: {err}"))
            continue
        try:
            result = derainer.derain_photo(photo)
        except ValueError as err:
            failures.append((path, f"{err} ({args.model})"))
            continue
        write_photo(result, targets[path])
    bar.close()
    done = len(files) - len(failures)
    print(f"derained {done} of {len(files)} image(s) into {args.output} with {args.model} in "
          f"{time.perf_counter() - start:.1f} s ({derainer.summary()})")
    if failures:
        print(f"{len(failures)} of {len(files)} image(s) failed:", file=sys.stderr)
        for path, reason in failures:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0


def _tiling_note(loaded: object) -> str:
    """The family's sentence when its networks cannot be tiled exactly, else ''."""
    from rainkit.nn import FAMILIES, family_of

    entry = getattr(loaded, "entry", None)
    family = FAMILIES.get(getattr(entry, "family", "") or "")
    if family is None:  # a checkpoint of a published network, or an authors' file
        family = family_of(getattr(loaded, "model_name", ""))
    if family is None or family.tiling == "exact":
        return ""
    why = family.tiling.removeprefix("approximate: ")
    return f"{family.name}: tiles are approximate: {why} (pass --tile 0 for the " \
           "exact whole-image result if memory allows)"

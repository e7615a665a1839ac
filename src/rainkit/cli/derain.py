"""``rainkit derain``: derain photos with a published model or a rainkit checkpoint."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

from rainkit.cli._common import CommandError, add_device_argument, load_network, pick_device
from rainkit.data import IMAGE_EXTENSIONS, read_image, save_image, split_alpha
from rainkit.nn import context_margin, tiled_forward

__all__ = ["output_paths", "read_photo", "register", "write_photo"]

DESCRIPTION = """\
Derain one image or every image of a folder with a published model (see 'rainkit models';
download it once with 'rainkit download NAME') or a checkpoint written by examples/train.py.
Outputs are PNG files named after the inputs; grayscale stays grayscale, an alpha channel is
kept, phone photos are turned upright (EXIF orientation). Large photos run in tiles with enough
context that the result equals the whole-image result for convolutional networks. Existing
files are never overwritten unless --overwrite is given, and the inputs never.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("derain", help="derain images with a published model or a "
                                 "checkpoint", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a published model name (e.g. prenet-rain100h) or the "
                                      "path of a rainkit checkpoint")
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("-o", "--output", type=Path, default=Path("derained"),
                        help="output folder (default: ./derained)")
    parser.add_argument("--tile", type=int, default=512,
                        help="tile side in pixels for large images; 0 = whole image at once "
                             "(default: 512)")
    parser.add_argument("--margin", default="auto",
                        help="context pixels around each tile: 'auto' (half the network's "
                             "measured receptive field) or a number (default: auto)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files")
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


def read_photo(path: Path) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    """Read an image upright (EXIF applied) as ``(rgb, alpha, grayscale)`` for the network.

    ``rgb`` is a :math:`(3, H, W)` float tensor in [0, 1] (16-bit files keep their precision,
    grayscale is repeated), ``alpha`` the :math:`(1, H, W)` alpha channel or ``None``.
    """
    color, alpha = split_alpha(read_image(path, mode="keep"))
    grayscale = color.shape[0] == 1
    return color.expand(3, -1, -1).contiguous(), alpha, grayscale


def write_photo(rgb: torch.Tensor, alpha: torch.Tensor | None, grayscale: bool,
                path: Path) -> None:
    """Write a :math:`(3, H, W)` result as an 8-bit PNG in the input's channels, atomically."""
    image = rgb.clamp(0, 1)
    if grayscale:
        image = image.mean(dim=0, keepdim=True)
    if alpha is not None:
        image = torch.cat([image, alpha.to(image)], dim=0)
    tmp = path.with_name(f".{path.name}.partial.png")
    try:
        save_image(image.cpu(), tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _margin(flag: str, model: nn.Module) -> int:
    if flag != "auto":
        try:
            value = int(flag)
        except ValueError:
            raise CommandError(f"--margin must be 'auto' or a number, got {flag!r}") from None
        if value < 0:
            raise CommandError(f"--margin must be >= 0, got {value}")
        return value
    margin = context_margin(model.cpu())
    if margin is None:
        print("warning: this network pools over the whole image, so tiles cannot reproduce the "
              "whole-image result exactly; using a 64 px margin (pass --tile 0 for exact "
              "whole-image inference if memory allows)", file=sys.stderr)
        return 64
    return margin


def run(args: argparse.Namespace) -> int:
    if args.tile < 0:
        raise CommandError(f"--tile must be >= 0 (0 = whole image), got {args.tile}")
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
    model, described, _ = load_network(args.model, device)
    margin = _margin(args.margin, model) if args.tile else 0
    model = model.to(device)
    failures: list[tuple[Path, str]] = []
    for index, path in enumerate(files, 1):
        start = time.perf_counter()
        try:
            rgb, alpha, grayscale = read_photo(path)
        except (OSError, ValueError) as err:
            failures.append((path, f"cannot read the image: {err}"))
            continue
        with torch.no_grad():
            batch = rgb[None].to(device)
            if args.tile:
                result = tiled_forward(model, batch, tile=args.tile, margin=margin)
            else:
                result = model(batch)
        result = result[0].float()
        if not bool(torch.isfinite(result).all()):
            failures.append((path, f"the network's output is not finite (NaN or inf): the "
                                   f"weights of {described} are broken"))
            continue
        write_photo(result, alpha, grayscale, targets[path])
        print(f"[{index}/{len(files)}] {path} -> {targets[path]} "
              f"({time.perf_counter() - start:.2f} s)", flush=True)
    if failures:
        print(f"{len(failures)} of {len(files)} image(s) failed:", file=sys.stderr)
        for path, reason in failures:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0

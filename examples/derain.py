"""Derain one image or a folder of images with a checkpoint from examples/train.py.

Images of any size are processed in overlapping tiles (256 px with a 32 px overlap by default)
that are blended with linear ramps across the overlaps, so memory stays bounded however large
the photo; images no larger than a tile go through in one piece. Outputs are PNG files.

Examples::

    python examples/derain.py runs/train/best.pt photo.jpg --output derained/
    python examples/derain.py runs/train/best.pt folder/ --output derained/ --tile 512
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from rainkit.checkpoint import load_model
from rainkit.data import IMAGE_EXTENSIONS, read_image, save_image


def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(length: int, overlap: int, device: torch.device) -> torch.Tensor:
    index = torch.arange(length, device=device, dtype=torch.float32)
    edge = float(overlap + 1)
    return torch.minimum(torch.ones_like(index), torch.minimum((index + 1) / edge,
                                                               (length - index) / edge))


@torch.no_grad()
def derain_tiled(model: nn.Module, image: torch.Tensor, tile: int = 256, overlap: int = 32
                 ) -> torch.Tensor:
    """Apply ``model`` to a :math:`(3, H, W)` image in overlapping, linearly blended tiles."""
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    _, height, width = image.shape
    th, tw = min(tile, height), min(tile, width)
    if th == height and tw == width:
        return model(image[None])[0].float().clamp(0, 1)
    output = torch.zeros(3, height, width, device=image.device)
    weight = torch.zeros(1, height, width, device=image.device)
    window = _ramp(th, overlap, image.device)[:, None] * _ramp(tw, overlap, image.device)[None]
    for top in _starts(height, th, th - overlap):
        for left in _starts(width, tw, tw - overlap):
            patch = image[None, :, top:top + th, left:left + tw]
            result = model(patch)[0].float()
            output[:, top:top + th, left:left + tw] += result * window
            weight[:, top:top + th, left:left + tw] += window
    return (output / weight).clamp(0, 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by train.py")
    parser.add_argument("input", type=Path, help="an image file or a folder of images")
    parser.add_argument("--output", type=Path, default=Path("derained"),
                        help="output folder (PNG files named after the inputs)")
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels")
    parser.add_argument("--overlap", type=int, default=32, help="overlap between tiles in pixels")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), ...")
    args = parser.parse_args(argv)
    if args.tile < 1 or not 0 <= args.overlap < args.tile:
        parser.error(f"need --tile >= 1 and 0 <= --overlap < --tile, got {args.tile}, "
                     f"{args.overlap}")
    if args.input.is_dir():
        files = sorted(p for p in args.input.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            parser.error(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {args.input}")
    elif args.input.is_file():
        files = [args.input]
    else:
        parser.error(f"input not found: {args.input}")
    if args.device == "auto":
        mps = getattr(torch.backends, "mps", None)
        args.device = "cuda" if torch.cuda.is_available() else \
            "mps" if mps is not None and mps.is_available() else "cpu"
    device = torch.device(args.device)
    model = load_model(args.checkpoint).to(device)
    for path in files:
        image = read_image(path).to(device)
        result = derain_tiled(model, image, args.tile, args.overlap)
        target = args.output / f"{path.stem}.png"
        save_image(result.cpu(), target)
        print(f"{path} -> {target}")


if __name__ == "__main__":
    main()

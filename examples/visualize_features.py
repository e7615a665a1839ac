"""Save VGG19 feature maps of an image as PNG grids (no window is opened).

For every requested layer the first ``--channels`` feature maps are min-max normalised one by
one and tiled into a grid with a one-pixel gap; each grid is written as
``<out_dir>/<image stem>_<layer>.png``. With ``--checkpoint`` the derained image's features are
saved beside the input's (``..._derained_<layer>.png``), which shows which streak responses a
network removed.

Examples::

    python examples/visualize_features.py photo.png --out_dir features/
    python examples/visualize_features.py photo.png --layers relu1_1 relu3_1 --channels 16
    python examples/visualize_features.py photo.png --checkpoint runs/train/best.pt

The pretrained weights are torchvision's ``vgg19-dcbb9e9d.pth`` in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``); pass ``--vgg_weights PATH`` for another copy, or
``--vgg_weights none`` for random weights (only useful for testing).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from rainkit.checkpoint import load_model
from rainkit.data import read_image, save_image
from rainkit.loss import VGG19_LAYERS, VGGFeatures


def feature_grid(features: torch.Tensor, channels: int, columns: int | None = None
                 ) -> torch.Tensor:
    """Tile the first ``channels`` maps of a :math:`(C, H, W)` tensor into a :math:`(1, H', W')`
    grid, each map min-max normalised to [0, 1]."""
    maps = features[:channels].float()
    n, h, w = maps.shape
    low = maps.amin(dim=(1, 2), keepdim=True)
    high = maps.amax(dim=(1, 2), keepdim=True)
    maps = (maps - low) / (high - low).clamp_min(1e-12)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = torch.ones(rows * (h + 1) - 1, columns * (w + 1) - 1)
    for index in range(n):
        r, c = divmod(index, columns)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = maps[index]
    return grid[None]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("image", type=Path, help="input image file")
    parser.add_argument("--out_dir", type=Path, default=Path("features"))
    parser.add_argument("--layers", nargs="+", default=["relu1_1", "relu2_1", "relu3_1",
                                                        "relu4_1", "relu5_1"],
                        choices=VGG19_LAYERS, metavar="LAYER",
                        help="VGG19 taps, e.g. relu1_1 conv3_4 pool2")
    parser.add_argument("--channels", type=int, default=64, help="feature maps per grid")
    parser.add_argument("--max_size", type=int, default=512,
                        help="downscale the image so its longer side is at most this")
    parser.add_argument("--vgg_weights", default="imagenet",
                        help="imagenet (torch hub cache), a path, or none (random)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="also show the features of this rainkit checkpoint's derained output")
    args = parser.parse_args(argv)
    if args.channels < 1:
        parser.error(f"--channels must be >= 1, got {args.channels}")
    weights = None if args.vgg_weights.lower() == "none" else args.vgg_weights
    try:
        vgg = VGGFeatures(layers=args.layers, vgg_weights=weights, normalize=True)
    except FileNotFoundError as err:
        raise SystemExit(f"error: VGG19 weights not found.\n{err}\nPut the file there or pass "
                         f"--vgg_weights /path/to/vgg19-dcbb9e9d.pth") from None
    image = read_image(args.image)
    scale = args.max_size / max(image.shape[-2:])
    if scale < 1:
        image = torch.nn.functional.interpolate(image[None], scale_factor=scale, mode="area")[0]
    inputs = {"": image}
    if args.checkpoint is not None:
        try:
            model = load_model(args.checkpoint)
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"error: {err}") from None
        with torch.no_grad():
            inputs["_derained"] = model(image[None])[0].clamp(0, 1)
    for suffix, picture in inputs.items():
        with torch.no_grad():
            features = vgg(picture[None])
        for layer in args.layers:
            path = args.out_dir / f"{args.image.stem}{suffix}_{layer}.png"
            save_image(feature_grid(features[layer][0], args.channels), path)
            print(f"{layer}: {tuple(features[layer].shape[1:])} -> {path}")


if __name__ == "__main__":
    main()

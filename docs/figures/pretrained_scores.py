"""Score every checkpoint of rainkit.nn.PRETRAINED on a folder of rainy/clean pairs.

For each entry whose file is found (by SHA-256, under any name) in ``--weights`` or in the
torch hub cache, the network derains every whole image; the output is clamped to [0, 1] and
scored against the clean image with ``rainkit.metrics.psnr`` and ``ssim`` on the Y channel
(``y_channel=True``: BT.601 limited range, not rounded, as MATLAB's ``rgb2ycbcr``), no border
crop; the table gives the mean over the pairs, with the rainy input's own scores first.
Prints a reStructuredText table for docs/guides/model_zoo.rst.

Run by hand, under the shared CPU lock (2 threads)::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python \\
        docs/figures/pretrained_scores.py ../shared/data/rain-dev/val \\
        --weights ../shared/pretrained/prenet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rainkit._hub import hub_checkpoint_dir, sha256_file
from rainkit.data.io import read_image
from rainkit.metrics import psnr, ssim
from rainkit.nn import PRETRAINED, load_pretrained


def find_files(folders: list[Path]) -> dict[str, Path]:
    """Entry name -> a file with that entry's SHA-256, searched in ``folders``."""
    by_hash = {entry.sha256: name for name, entry in PRETRAINED.items()}
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.pth")) if folder.is_dir() else []:
            name = by_hash.get(sha256_file(path))
            if name is not None:
                found.setdefault(name, path)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with rainy/ and clean/ images")
    parser.add_argument("--weights", type=Path, action="append", default=[],
                        help="folder of checkpoint files (any names); the hub cache is searched "
                             "too")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = sorted(p.name for p in (args.data / "rainy").iterdir())
    pairs = [(read_image(args.data / "rainy" / n)[None], read_image(args.data / "clean" / n)[None])
             for n in names]

    def scores(outputs: list[torch.Tensor]) -> tuple[float, float]:
        p = [psnr(o, c, data_range=1.0, y_channel=True).item()
             for o, (_, c) in zip(outputs, pairs, strict=True)]
        s = [ssim(o, c, data_range=1.0, y_channel=True).item()
             for o, (_, c) in zip(outputs, pairs, strict=True)]
        return sum(p) / len(p), sum(s) / len(s)

    rows = [("rainy input (no deraining)", *scores([r for r, _ in pairs]))]
    files = find_files([*args.weights, hub_checkpoint_dir()])
    with torch.no_grad():
        for name in PRETRAINED:
            if name not in files:
                rows.append((name, float("nan"), float("nan")))
                continue
            net = load_pretrained(name, files[name])
            rows.append((name, *scores([net(r).clamp(0, 1) for r, _ in pairs])))
    print(f"{args.data}: {len(pairs)} pairs, whole images, Y of BT.601 unrounded, output "
          "clamped to [0, 1]")
    print("=" * 28 + "  " + "=" * 8 + "  " + "=" * 6)
    print(f"{'checkpoint':<28}  {'Y-PSNR':>8}  {'SSIM':>6}")
    print("=" * 28 + "  " + "=" * 8 + "  " + "=" * 6)
    for name, p, s in rows:
        print(f"{name:<28}  {p:>8.2f}  {s:>6.4f}")
    print("=" * 28 + "  " + "=" * 8 + "  " + "=" * 6)


if __name__ == "__main__":
    main()

"""Measure every released checkpoint with ``rainkit evaluate`` and write the zoo page's column.

For each entry of :data:`rainkit.nn.PRETRAINED` whose file is found in ``--weights-dir``
(matched by SHA-256, searched recursively), this runs the command a user runs::

    rainkit evaluate NAME VAL_DIR --weights FILE --convention C --csv ... --lpips_weights none

with ``C`` the convention of the entry's first published figure (``prenet-y`` when it has
none), and records the mean of the per-image scores that the command wrote. The result goes to
``docs/guides/_zoo_measured.csv``, which ``docs/figures/model_zoo.py`` puts on the model-zoo
page: the page shows what the command prints, nothing else. Entries whose file is not found
(the releases a script cannot fetch) are left out and shown as "weights not available here".

Usage (a quiet machine: it runs every network on every pair, several minutes on 2 cores)::

    .venv/bin/python tools/measure_zoo.py ../shared/data/rain-dev/val \\
        --weights-dir ../shared/pretrained --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "guides" / "_zoo_measured.csv"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("val_dir", type=Path, help="a folder of rainy/clean pairs")
    parser.add_argument("--weights-dir", type=Path, required=True,
                        help="where the released files are (searched recursively)")
    parser.add_argument("--only", nargs="*", default=None, help="measure only these entries")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from rainkit._files import atomic_write_text
    from rainkit.cli import main as rainkit_main
    from rainkit.nn import PRETRAINED

    files = {sha256(p): p for p in sorted(args.weights_dir.rglob("*.pth"))}
    rows: list[dict[str, str]] = []
    previous = {}
    if args.out.is_file():
        with open(args.out, newline="") as handle:
            previous = {row["name"]: row for row in csv.DictReader(handle)}
    for name, entry in sorted(PRETRAINED.items()):
        if args.only and name not in args.only:
            if name in previous:
                rows.append(previous[name])
            continue
        path = files.get(entry.sha256 or "")
        if path is None:
            print(f"{name}: file not found, skipped", file=sys.stderr)
            continue
        convention = entry.published[0].convention if entry.published else "prenet-y"
        with tempfile.TemporaryDirectory() as tmp:
            table = Path(tmp) / "scores.csv"
            command = ["evaluate", name, str(args.val_dir), "--weights", str(path),
                       "--convention", convention, "--csv", str(table),
                       "--lpips_weights", "none", "--threads", str(args.threads)]
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                status = rainkit_main(command)
            print(printed.getvalue(), file=sys.stderr)
            if status != 0:
                print(f"{name}: rainkit evaluate failed ({status})", file=sys.stderr)
                return 1
            with open(table, newline="") as handle:
                scores = list(csv.DictReader(handle))
        suffix = "_y" if "psnr_y" in scores[0] else ""
        psnr = sum(float(r[f"psnr{suffix}"]) for r in scores) / len(scores)
        ssim = sum(float(r[f"ssim{suffix}"]) for r in scores) / len(scores)
        rows.append({"name": name, "psnr": f"{psnr:.4f}", "ssim": f"{ssim:.4f}",
                     "convention": convention, "pairs": str(len(scores)),
                     "command": "rainkit " + " ".join(command[:2]) + " VAL_DIR --convention "
                                + convention})
        print(f"{name}: {psnr:.2f} dB / {ssim:.4f} ({convention}, {len(scores)} pairs)",
              file=sys.stderr)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=["name", "psnr", "ssim", "convention", "pairs",
                                              "command"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(args.out, text.getvalue())
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

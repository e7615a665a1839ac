"""``rainkit evaluate`` and ``rainkit score``: a paper's table from a model or from results."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rainkit.cli._common import CommandError, add_device_argument, load_network, pick_device
from rainkit.data import IMAGE_EXTENSIONS, decode_image, find_pairs, to_float_tensor
from rainkit.nn import tiled_forward

__all__ = ["register", "score_images"]


def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    from rainkit.metrics import CONVENTIONS

    parser.add_argument("--convention", choices=sorted(CONVENTIONS), default=None,
                        help="how Y-PSNR/SSIM are computed (see the guide 'Reproducing a paper's "
                             "table'); default: the published model's, else matlab-y")
    parser.add_argument("--csv", type=Path, default=None,
                        help="per-image scores (default: <output>/scores.csv when --output is "
                             "given, else none)")
    parser.add_argument("--lpips_weights", default="imagenet",
                        help="AlexNet weights for LPIPS: imagenet (torch hub cache), a path, or "
                             "none; LPIPS is skipped with a notice when the file is missing")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing CSV or existing output images")


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="derain a test set and score it like the papers do",
        description="Derain every rainy image of a test set (any layout rainkit.data knows: "
                    "Rain100L/H, Rain200, Rain1400, Test100, SPA-Data, Rain13K input/target, "
                    "...), round the outputs to 8 bits as the authors' pipelines do, and score "
                    "them against the ground truth: per-image CSV, then a summary table with "
                    "the published figure beside the measured one when there is one.")
    evaluate.add_argument("model", help="a published model name or a rainkit checkpoint path")
    evaluate.add_argument("data", type=Path, help="the test-set folder")
    evaluate.add_argument("-o", "--output", type=Path, default=None,
                          help="also save the derained images (8-bit PNG) in this folder")
    evaluate.add_argument("--test_set", default=None,
                          help="name of the test set, to show the published figure (default: "
                               "guessed from the folder name)")
    evaluate.add_argument("--tile", type=int, default=0,
                          help="tile side for large images (default 0: whole images, as papers "
                               "score)")
    _add_scoring_arguments(evaluate)
    add_device_argument(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    score = commands.add_parser(
        "score", help="score a folder of results made elsewhere against ground truth",
        description="Score results made by any method against a test set's ground truth: the "
                    "results folder holds one image per rainy image, named like it (any "
                    "extension). Same CSV and table as 'rainkit evaluate'.")
    score.add_argument("results", type=Path, help="folder of derained images")
    score.add_argument("data", type=Path, help="the test-set folder (any known layout)")
    _add_scoring_arguments(score)
    score.set_defaults(run=run_score, output=None, test_set=None)


def _read_uint8(path: Path) -> np.ndarray:
    """An image file as an 8-bit ``(H, W, 3)`` array, as the papers' scripts read it.

    Read by :func:`rainkit.data.decode_image` (exact pixels, EXIF orientation applied, like the
    dataset and ``rainkit derain``); a 16-bit or floating-point file is taken to ``[0, 1]`` as
    the datasets take it and rounded to 8 bits like a derained output.
    """
    image = decode_image(path)
    if image.dtype == torch.uint8:
        return image.permute(1, 2, 0).numpy()
    return _to_uint8(to_float_tensor(image), "round")


def _to_uint8(output: torch.Tensor, rounding: str) -> np.ndarray:
    array = output.clamp(0, 1).mul(255).permute(1, 2, 0).cpu().double().numpy()
    array = np.floor(array) if rounding == "floor" else np.round(array)
    return array.astype(np.uint8)


class _Scorer:
    """Scores one (result, ground truth) pair of uint8 arrays in a convention, plus RGB, LPIPS."""

    def __init__(self, convention: str, lpips_weights: str, device: torch.device) -> None:
        from rainkit.metrics import LPIPS

        self.convention = convention
        self.device = device
        self.lpips = None
        if lpips_weights.lower() != "none":
            try:
                self.lpips = LPIPS(net="alex", weights=lpips_weights).to(device).eval()
            except FileNotFoundError as err:
                first = str(err).splitlines()[0]
                print(f"notice: LPIPS skipped: {first}", file=sys.stderr)

    def __call__(self, result: np.ndarray, truth: np.ndarray) -> dict[str, float]:
        from rainkit.metrics import score

        if result.shape != truth.shape:
            raise ValueError(f"result is {result.shape[1]}x{result.shape[0]} but the ground "
                             f"truth is {truth.shape[1]}x{truth.shape[0]}")
        named = score(result, truth, self.convention)
        rgb = score(result, truth, "rgb")
        scores = {"psnr_y": named["psnr"], "ssim_y": named["ssim"],
                  "psnr_rgb": rgb["psnr"], "ssim_rgb": rgb["ssim"]}
        if self.lpips is not None:
            pair = [torch.from_numpy(a).permute(2, 0, 1)[None].float().div(255).to(self.device)
                    for a in (result, truth)]
            with torch.no_grad():
                scores["lpips"] = float(self.lpips(*pair).mean())
        return {k: float(v) for k, v in scores.items()}


def score_images(
    items: Iterator[tuple[str, Callable[[], np.ndarray], Path]],
    scorer: _Scorer,
    total: int,
    csv_path: Path | None,
) -> tuple[dict[str, float], int]:
    """Score ``(name, make_result, clean_path)`` items; write the CSV; return means and count."""
    from tqdm import tqdm

    rows = []
    bar = tqdm(items, total=total, unit="image", file=sys.stderr, dynamic_ncols=True)
    for name, make_result, clean in bar:
        try:
            start = time.perf_counter()
            result = make_result()
            seconds = time.perf_counter() - start
            scores = scorer(result, _read_uint8(clean))
        except ValueError as err:
            raise CommandError(f"{name}: {err}") from None
        rows.append({"name": name, **{k: round(v, 6) for k, v in scores.items()},
                     "seconds": round(seconds, 4)})
        bar.set_postfix(psnr_y=f"{scores['psnr_y']:.2f}")
    bar.close()
    if csv_path is not None and rows:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    keys = [k for k in rows[0] if k != "name"] if rows else []
    means = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    return means, len(rows)


def _pairs(data: Path, limit: int | None) -> list[tuple[str, Path, Path]]:
    try:
        pairs = find_pairs(data)
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(str(err)) from None
    if limit is not None:
        if limit < 1:
            raise CommandError(f"--limit must be >= 1, got {limit}")
        pairs = pairs[:limit]
    return pairs


def _csv_path(args: argparse.Namespace) -> Path | None:
    path = args.csv
    if path is None and args.output is not None:
        path = args.output / "scores.csv"
    if path is not None and path.exists() and not args.overwrite:
        raise CommandError(f"{path} exists already; pass --overwrite or choose another --csv")
    return path


def _published(entry: object | None, test_set: str | None, data: Path) -> object | None:
    if entry is None:
        return None
    figures = getattr(entry, "published", ()) or ()
    wanted = (test_set or "").lower()
    for figure in figures:
        name = str(getattr(figure, "test_set", "")).lower()
        if name and (name == wanted or (not wanted and any(
                name == part.lower() for part in data.resolve().parts))):
            return figure
    return None


def _report(means: dict[str, float], count: int, convention: str, described: str,
            data: Path, published: object | None) -> None:
    print(f"\n{described} on {data} ({count} images), convention {convention!r}")
    print(f"  {'':10s} {'measured':>10s}" + (f" {'published':>10s}" if published else ""))
    labels = {"psnr_y": "Y-PSNR", "ssim_y": "Y-SSIM", "psnr_rgb": "PSNR RGB",
              "ssim_rgb": "SSIM RGB", "lpips": "LPIPS", "seconds": "s / image"}
    for key, label in labels.items():
        if key not in means:
            continue
        value = means[key]
        text = f"{value:10.2f}" if "psnr" in key else f"{value:10.4f}"
        line = f"  {label:10s} {text}"
        reference = getattr(published, key.replace("_y", ""), None) if published else None
        if reference is not None and key in ("psnr_y", "ssim_y"):
            line += f" {reference:10.4g}"
        print(line)
    if published is not None:
        print(f"  published figures: {published.test_set}, convention "
              f"{published.convention!r}; {published.source}")


def _convention(flag: str | None, entry: object | None) -> str:
    """--convention, else the one of the model's published figures, else matlab-y."""
    if flag is not None:
        return flag
    figures = getattr(entry, "published", ()) or ()
    return str(figures[0].convention) if figures else "matlab-y"


def run_evaluate(args: argparse.Namespace) -> int:
    if args.tile < 0:
        raise CommandError(f"--tile must be >= 0, got {args.tile}")
    pairs = _pairs(args.data, args.limit)
    csv_path = _csv_path(args)
    device = pick_device(args.device, args.threads)
    model, described, entry = load_network(args.model, device)
    convention = _convention(args.convention, entry)
    from rainkit.metrics import CONVENTIONS

    # round to 8 bits the way the convention's reference pipeline saved its outputs
    rounding = CONVENTIONS[convention].pipeline_quantize or "round"
    if args.output is not None:
        clash = [args.output / f"{name}.png" for name, _, _ in pairs
                 if (args.output / f"{name}.png").exists()]
        if clash and not args.overwrite:
            raise CommandError(f"{len(clash)} output image(s) exist already, e.g. {clash[0]}; "
                               "pass --overwrite or choose another --output")
    from rainkit.cli.derain import read_photo

    def derain(name: str, rainy: Path) -> Callable[[], np.ndarray]:
        def make() -> np.ndarray:
            rgb, _, _ = read_photo(rainy)
            with torch.no_grad():
                batch = rgb[None].to(device)
                out = tiled_forward(model, batch, tile=args.tile) if args.tile else model(batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            result = _to_uint8(out[0].float(), rounding)
            if args.output is not None:
                args.output.mkdir(parents=True, exist_ok=True)
                Image.fromarray(result).save(args.output / f"{name}.png")
            return result
        return make

    scorer = _Scorer(convention, args.lpips_weights, device)
    items = ((name, derain(name, rainy), clean) for name, rainy, clean in pairs)
    means, count = score_images(items, scorer, len(pairs), csv_path)
    _report(means, count, convention, described, args.data,
            _published(entry, args.test_set, args.data))
    if csv_path is not None:
        print(f"  per-image scores: {csv_path}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    pairs = _pairs(args.data, args.limit)
    csv_path = _csv_path(args)
    if not args.results.is_dir():
        raise CommandError(f"results folder not found: {args.results}")
    by_stem: dict[str, Path] = {}
    for path in args.results.iterdir():
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            by_stem.setdefault(path.stem, path)
    missing = [name for name, _, _ in pairs if name not in by_stem]
    if missing:
        raise CommandError(f"{len(missing)} of {len(pairs)} result(s) missing in {args.results}, "
                           f"e.g. {missing[:3]} (results are matched to rainy images by name)")
    convention = _convention(args.convention, None)
    scorer = _Scorer(convention, args.lpips_weights, torch.device("cpu"))
    items = ((name, (lambda p=by_stem[name]: _read_uint8(p)), clean)
             for name, _, clean in pairs)
    means, count = score_images(items, scorer, len(pairs), csv_path)
    means.pop("seconds", None)
    _report(means, count, convention, str(args.results), args.data, None)
    if csv_path is not None:
        print(f"  per-image scores: {csv_path}")
    return 0 if not math.isnan(means.get("psnr_y", 0.0)) else 1

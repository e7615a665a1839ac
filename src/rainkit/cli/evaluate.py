"""``rainkit evaluate`` and ``rainkit score``: a paper's table from a model or from results."""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rainkit.cli._common import (
    CommandError,
    add_device_argument,
    add_weights_argument,
    load_network,
    notice,
    pick_device,
)

__all__ = ["register"]

_LPIPS_HINT = "Or pass --lpips_weights none to skip LPIPS."


def _quantize_help() -> str:
    """How each convention's pipeline stored the outputs, from the conventions table."""
    from rainkit.metrics import CONVENTIONS

    words = {"floor": "truncated to 8 bits", "round": "rounded to 8 bits",
             None: "scored as floats in [0, 1], not quantized"}
    canonical = sorted({c.name: c for c in CONVENTIONS.values()}.items())
    return "; ".join(f"{name}: {words[c.pipeline_quantize]}" for name, c in canonical)


def _add_scoring_arguments(parser: argparse.ArgumentParser, *, outputs: bool) -> None:
    from rainkit.metrics import CONVENTIONS

    parser.add_argument("--convention", choices=sorted(CONVENTIONS), default=None,
                        help="how PSNR/SSIM are computed (see the guide 'Reproducing a paper's "
                             "table'); default: the published model's, else prenet-y")
    parser.add_argument("--crop_border", "--crop-border", dest="crop_border", type=int,
                        default=None,
                        help="pixels cut from each border before scoring, for conventions "
                             "that take it as an option (basicsr-y)")
    parser.add_argument("--test_set", "--test-set", dest="test_set", default=None,
                        help="the test set the folder holds (any of its names: Rain100H, "
                             "Rain1200, DID-Data, ...), to check its size and show the "
                             "published figure (default: guessed from the folder's path)")
    parser.add_argument("--pair_by", "--pair-by", dest="pair_by", choices=("name", "sorted"),
                        default="name",
                        help="match images to ground truth by name (default) or by position "
                             "in sorted order, as MPRNet's and Restormer's "
                             "evaluate_PSNR_SSIM.m do")
    parser.add_argument("--csv", type=Path, default=None,
                        help="per-image scores (default: <output>/scores.csv when --output is "
                             "given, else none)" if outputs else "per-image scores (default: "
                             "none)")
    parser.add_argument("--lpips_weights", "--lpips-weights", dest="lpips_weights",
                        default="imagenet",
                        help="AlexNet weights for LPIPS: imagenet (torch hub cache), a path, or "
                             "none; LPIPS is skipped with one notice when the file is missing")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing CSV or existing output images" if outputs
                        else "replace an existing CSV")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="derain a test set and score it like the papers do",
        description="Derain every rainy image of a test set (any layout rainkit.data knows: "
                    "Rain100L/H, Rain200, Rain1400, Test100, SPA-Data, Rain13K input/target, "
                    "...), store the outputs as the convention's reference pipeline did ("
                    + _quantize_help() + "), and score them against the ground truth: "
                    "per-image CSV, then a summary that names the test set and its protocol "
                    "and shows the published figure when its test set, protocol and "
                    "convention match the measurement. A folder of rainy images without "
                    "ground truth is scored with the no-reference metrics.")
    evaluate.add_argument("model", help="a published model name, a weight file or a rainkit "
                                        "checkpoint")
    evaluate.add_argument("data", type=Path, help="the test-set folder")
    evaluate.add_argument("-o", "--output", type=Path, default=None,
                          help="also save the scored outputs (8-bit PNG) in this folder")
    evaluate.add_argument("--tile", type=int, default=0,
                          help="tile side for large images, with the network's measured "
                               "margin (default 0: whole images, as papers score)")
    evaluate.add_argument("--jpeg", type=int, default=None, metavar="QUALITY",
                          help="store each output as a JPEG of this quality before scoring, "
                               "as PReNet's Rain1400 pipeline did (cv2.imwrite of a .jpg "
                               "name: --jpeg 95)")
    _add_scoring_arguments(evaluate, outputs=True)
    add_weights_argument(evaluate)
    add_device_argument(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    score = commands.add_parser(
        "score", help="score a folder of results made elsewhere",
        description="Score results made by any method against a test set's ground truth: the "
                    "results folder holds one image per rainy image, named like it (any "
                    "extension), or in the same sorted order with --pair_by sorted. Same CSV "
                    "and table as 'rainkit evaluate'. Without DATA, the results are scored "
                    "with the no-reference metrics only.")
    score.add_argument("results", type=Path, help="folder of derained images")
    score.add_argument("data", type=Path, nargs="?", default=None,
                       help="the test-set folder (any known layout); omit it for results "
                            "without ground truth")
    _add_scoring_arguments(score, outputs=False)
    score.set_defaults(run=run_score, output=None, jpeg=None)


# -- reading -------------------------------------------------------------------------------------

def _read_uint8(path: Path) -> np.ndarray:
    """An image file as an 8-bit ``(H, W, 3)`` array, as the papers' scripts read it.

    Read by :func:`rainkit.data.decode_image` (exact pixels, EXIF orientation applied, like the
    dataset and ``rainkit derain``); a 16-bit or floating-point file is taken to ``[0, 1]`` as
    the datasets take it and rounded to 8 bits.
    """
    from rainkit.data import decode_image, to_float_tensor
    from rainkit.inference import to_uint8

    try:
        image = decode_image(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if image.dtype != torch.uint8:
        image = to_uint8(to_float_tensor(image), "round")
    return image.permute(1, 2, 0).numpy()


def _images(folder: Path) -> list[Path]:
    from rainkit.data import IMAGE_EXTENSIONS
    from rainkit.data.layouts import sorted_order_key

    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=sorted_order_key)


def _pairs(data: Path, pair_by: str) -> tuple[list[tuple[str, Path, Path]] | None, str]:
    """The test set's pairs, or ``(None, why)`` for a folder of images without ground truth."""
    from rainkit.data import find_pairs

    if not data.is_dir():
        raise CommandError(f"test-set folder not found: {data}")
    try:
        pairs = find_pairs(data, pair_by="sorted" if pair_by == "sorted" else None)
    except FileNotFoundError as err:
        raise CommandError(str(err)) from None
    except ValueError as err:
        if _images(data) and _no_reference_metrics():  # a plain folder of photos
            return None, str(err)
        raise CommandError(f"{err}; for results named otherwise than the ground truth, pass "
                           "--pair_by sorted") from None
    return [(p.name, p.rainy, p.clean) for p in pairs], ""


# -- the table -----------------------------------------------------------------------------------

def _lpips(flag: str, device: torch.device) -> Any:
    from rainkit.metrics import LPIPS

    if flag.lower() == "none":
        return None
    try:
        return LPIPS(net="alex", weights=flag, reduction="none", hint=_LPIPS_HINT).to(device)
    except FileNotFoundError as err:
        notice(f"LPIPS skipped: {str(err).splitlines()[0]} {_LPIPS_HINT}")
        return None


def _no_reference_metrics() -> tuple[str, ...]:
    from rainkit.metrics import METRICS

    return tuple(sorted(name for name, metric in METRICS.items() if not metric.reference))


def _table(convention: Any, args: argparse.Namespace, device: torch.device,
           reference: bool) -> Any:
    from rainkit.metrics import ScoreTable

    if not reference:
        blind = _no_reference_metrics()
        if not blind:
            raise CommandError("no ground truth was found, and no no-reference metric (NIQE, "
                               "BRISQUE) is available in this rainkit")
        return ScoreTable((), no_reference=blind)
    conventions = (convention, "rgb") if convention.y_channel else (convention,)
    try:
        return ScoreTable(conventions, lpips=_lpips(args.lpips_weights, device),
                          crop_border=args.crop_border)
    except ValueError as err:
        raise CommandError(f"--crop_border: {err}" if args.crop_border is not None else str(err)
                           ) from None


def _convention(flag: str | None, entry: object | None) -> Any:
    """--convention, else the one of the model's published figures, else prenet-y."""
    from rainkit.metrics.conventions import resolve_convention

    figures = getattr(entry, "published", ()) or ()
    name = flag if flag is not None else (figures[0].convention if figures else "prenet-y")
    return resolve_convention(name)


def _test_set(flag: str | None, data: Path | None) -> Any:
    from rainkit.data import find_test_set, guess_test_set

    if flag is not None:
        try:
            return find_test_set(flag)
        except ValueError as err:
            raise CommandError(f"--test_set: {err}") from None
    return guess_test_set(data) if data is not None else None


def _csv_path(args: argparse.Namespace) -> Path | None:
    path: Path | None = args.csv
    if path is None and args.output is not None:
        path = args.output / "scores.csv"
    if path is not None and path.exists() and not args.overwrite:
        raise CommandError(f"{path} exists already; pass --overwrite or choose another --csv")
    return path


def _score_all(items: Iterator[tuple[str, Callable[[], Any], Callable[[], Any] | None]],
               table: Any, total: int, csv_path: Path | None
               ) -> tuple[dict[str, float], int]:
    """Score ``(name, make_result, read_truth or None)`` items; write the CSV; return means."""
    from tqdm import tqdm

    from rainkit._files import atomic_write_text
    from rainkit.metrics import mean_scores

    rows: list[dict[str, Any]] = []
    first = table.columns[0]
    bar = tqdm(items, total=total, unit="image", file=sys.stderr, dynamic_ncols=True)
    for name, make_result, read_truth in bar:
        try:
            start = time.perf_counter()
            result = make_result()
            seconds = time.perf_counter() - start
            scores = table(result, read_truth() if read_truth is not None else None)
        except (OSError, ValueError, TypeError) as err:
            bar.close()
            raise CommandError(f"{name}: {err}") from None
        rows.append({"name": name, **{k: round(float(v), 6) for k, v in scores.items()},
                     "seconds": round(seconds, 4)})
        bar.set_postfix_str(first.format(float(scores[first.key])))
    bar.close()
    if csv_path is not None and rows:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(csv_path, text.getvalue())
    means: dict[str, float] = {}
    for key in [k for k in rows[0] if k != "name"] if rows else []:
        # NaN: the metric had nothing to measure (NIQE or BRISQUE of a constant image); the
        # CSV keeps it, the mean is over the images that have a value
        kept = [{key: r[key]} for r in rows if not math.isnan(r[key])]
        if len(kept) < len(rows):
            notice(f"{key}: {len(rows) - len(kept)} of {len(rows)} image(s) gave no value "
                   "(NaN: nothing to measure, e.g. a constant image); the mean leaves them out")
        means.update(mean_scores(kept) if kept else {key: math.nan})
    return means, len(rows)


# -- the report ----------------------------------------------------------------------------------

def _published(entry: object | None, test_set: Any, convention: Any, count: int,
               limited: bool) -> tuple[Any, list[str]]:
    """The published figure to show beside the measurement, or ``None`` and why not."""
    from types import SimpleNamespace

    from rainkit.data import figure_mismatches, find_test_set
    from rainkit.metrics.conventions import resolve_convention

    figures = list(getattr(entry, "published", ()) or ())
    if entry is None or not figures:
        return None, []
    if test_set is None:
        return None, ["the folder is not a known test set (name it with --test_set)"]
    same = []
    for figure in figures:
        try:
            if find_test_set(figure.test_set) is test_set:
                same.append(figure)
        except ValueError:
            continue
    candidates = same or figures
    figure = candidates[0]
    canonical = SimpleNamespace(test_set=figure.test_set, protocol=figure.protocol,
                                convention=resolve_convention(figure.convention).name)
    reasons = figure_mismatches(canonical, test_set=test_set, convention=convention.name,
                                n_pairs=None if limited else count)
    if limited:
        reasons.append(f"only the first {count} pairs were scored (--limit)")
    if not same:
        reasons = [f"{getattr(entry, 'name', 'the model')} has no published figure on "
                   f"{test_set.name}"]
    return (figure if not reasons else None), reasons


def _report(means: dict[str, float], count: int, table: Any, described: str, data: Path,
            test_set: Any, convention: Any, stored: str, published: Any,
            reasons: list[str], warnings: list[str]) -> None:
    if table.needs_reference:
        print(f"\n{described} on {data} ({count} pairs)")
    else:
        print(f"\n{described} on {data} ({count} images; no ground truth: no-reference "
              "metrics)")
    if test_set is not None:
        protocols = ", ".join(test_set.protocols) or "none"
        print(f"  test set: {test_set.name} (protocol(s) {protocols})")
    if table.needs_reference:
        print(f"  convention: {convention.name} (rainkit.metrics.CONVENTIONS[{convention.name!r}]"
              ".reproduces names the script)")
    if stored:
        print(f"  outputs: {stored}")
    ref_keys = {}
    if published is not None:
        from rainkit.metrics import key_for

        ref_keys = {key_for("psnr", convention): published.psnr,
                    key_for("ssim", convention): published.ssim}
    header = f"  {'':10s} {'measured':>10s}" + (f" {'published':>10s}" if ref_keys else "")
    print(header)
    for column in table.columns:
        if column.key not in means:
            continue
        line = f"  {column.label:10s} {means[column.key]:10.{column.decimals}f}"
        if column.key in ref_keys and not math.isnan(ref_keys[column.key]):
            line += f" {ref_keys[column.key]:10.{column.decimals}f}"
        print(line)
    if "seconds" in means:
        print(f"  {'s / image':10s} {means['seconds']:10.4f}")
    if published is not None:
        print(f"  published: {published.test_set}, protocol {published.protocol or '-'}, "
              f"convention {published.convention}; {published.source}")
    for reason in reasons:
        print(f"  published figure not shown: {reason}")
    for warning in warnings:
        print(f"  warning: {warning}")


def _stored(convention: Any, jpeg: int | None) -> str:
    words = {"floor": "truncated to 8 bits (as the convention's reference pipeline did)",
             "round": "rounded to 8 bits (as the convention's reference pipeline did)",
             None: "scored as floats clipped to [0, 1] (the convention's reference pipeline "
                   "did not quantize)"}
    text = words[convention.pipeline_quantize]
    if jpeg is not None:
        text += f", then stored as JPEG quality {jpeg} (--jpeg)"
    return text


def _folder_warnings(test_set: Any, count: int, data: Path, limited: bool) -> list[str]:
    from rainkit.data import check_test_folder

    if test_set is None or limited:
        return []
    return check_test_folder(test_set, count, folder=data)  # said once, in the summary


# -- the commands --------------------------------------------------------------------------------

def run_evaluate(args: argparse.Namespace) -> int:
    from rainkit.data import jpeg_roundtrip
    from rainkit.inference import Derainer, read_photo, to_uint8

    if args.tile < 0:
        raise CommandError(f"--tile must be >= 0, got {args.tile}")
    if args.jpeg is not None and not 1 <= args.jpeg <= 100:
        raise CommandError(f"--jpeg must be a quality from 1 to 100, got {args.jpeg}")
    _check_limit(args.limit)
    test_set = _test_set(args.test_set, args.data)
    pairs, why = _pairs(args.data, args.pair_by)
    reference = pairs is not None
    if not reference:
        notice(f"no ground truth: {why.splitlines()[0]}; scoring the results with the "
               "no-reference metrics")
    everything = pairs if pairs is not None else [(p.stem, p, None) for p in _images(args.data)]
    limited = args.limit is not None and args.limit < len(everything)
    items_list = everything[:args.limit]
    csv_path = _csv_path(args)
    if args.output is not None:
        clash = [args.output / f"{name}.png" for name, _, _ in items_list
                 if (args.output / f"{name}.png").exists()]
        if clash and not args.overwrite:
            raise CommandError(f"{len(clash)} output image(s) exist already, e.g. {clash[0]}; "
                               "pass --overwrite or choose another --output")
    device = pick_device(args.device, args.threads)
    loaded = load_network(args.model, args.weights)
    entry = loaded.entry
    convention = _convention(args.convention, entry)
    table = _table(convention, args, device, reference)
    warnings = _folder_warnings(test_set, len(items_list), args.data, limited)
    derainer = Derainer(loaded.model, device=device, tile=args.tile, log=notice)
    rounding = convention.pipeline_quantize if reference else "round"
    jpeg = args.jpeg

    def derain(name: str, rainy: Path) -> Callable[[], Any]:
        def make() -> Any:
            from rainkit.data import save_image  # atomic (rainkit._files)

            output = derainer(read_photo(rainy).rgb).float()
            if rounding is None and jpeg is None:
                result = output.clamp(0, 1).double().cpu()
                if args.output is not None:
                    save_image(result, args.output / f"{name}.png")
                return result.permute(1, 2, 0).numpy()
            levels = to_uint8(output.cpu(), "floor" if rounding == "floor" else "round")
            if jpeg is not None:
                levels = jpeg_roundtrip(levels, jpeg)
            if args.output is not None:
                save_image(levels, args.output / f"{name}.png")
            return levels.permute(1, 2, 0).numpy()
        return make

    def truth(clean: Path) -> Callable[[], np.ndarray]:
        def read() -> np.ndarray:
            array = _read_uint8(clean)
            return array if rounding is not None or jpeg is not None else array / 255.0
        return read

    items = ((name, derain(name, rainy), truth(clean) if clean is not None else None)
             for name, rainy, clean in items_list)
    means, count = _score_all(items, table, len(items_list), csv_path)
    published, reasons = _published(entry, test_set, convention, count, limited)
    described = args.model if entry is not None and entry.name == args.model else \
        f"{args.model} ({loaded.how})"
    _report(means, count, table, described, args.data, test_set, convention,
            _stored(convention, jpeg) if reference else "", published, reasons, warnings)
    print(f"  network: {derainer.summary()}")
    if csv_path is not None:
        print(f"  per-image scores: {csv_path}")
    return 0


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise CommandError(f"--limit must be >= 1, got {limit}")


def run_score(args: argparse.Namespace) -> int:
    _check_limit(args.limit)
    if not args.results.is_dir():
        raise CommandError(f"results folder not found: {args.results}")
    results = _images(args.results)
    if not results:
        raise CommandError(f"no images in {args.results}")
    test_set = _test_set(args.test_set, args.data)
    csv_path = _csv_path(args)
    convention = _convention(args.convention, None)
    device = torch.device("cpu")
    if args.data is None:
        table = _table(convention, args, device, reference=False)
        chosen = results[:args.limit] if args.limit else results
        items: Iterable[Any] = ((p.stem, (lambda p=p: _read_uint8(p)), None) for p in chosen)
        means, count = _score_all(iter(items), table, len(chosen), csv_path)
        means.pop("seconds", None)
        _report(means, count, table, str(args.results), args.results, None, convention, "",
                None, [], [])
    else:
        pairs, _ = _pairs(args.data, "name")
        if pairs is None:
            raise CommandError(f"no ground truth found in {args.data}; omit DATA to score the "
                               "results with the no-reference metrics")
        matched = _match_results(results, pairs, args.pair_by, args.results)
        table = _table(convention, args, device, reference=True)
        limited = args.limit is not None and args.limit < len(pairs)
        pairs = pairs[:args.limit]
        warnings = _folder_warnings(test_set, len(pairs), args.data, limited)
        items = ((name, (lambda p=matched[name]: _read_uint8(p)),
                  (lambda c=clean: _read_uint8(c))) for name, _, clean in pairs)
        means, count = _score_all(iter(items), table, len(pairs), csv_path)
        means.pop("seconds", None)
        _report(means, count, table, str(args.results), args.data, test_set, convention,
                "", None, [], warnings)
    if csv_path is not None:
        print(f"  per-image scores: {csv_path}")
    return 0


def _match_results(results: list[Path], pairs: list[tuple[str, Path, Path]], pair_by: str,
                   folder: Path) -> dict[str, Path]:
    """Result file of each pair: by the rainy image's name, or by sorted position."""
    if pair_by == "sorted":
        if len(results) != len(pairs):
            raise CommandError(f"--pair_by sorted needs as many results as pairs: {folder} "
                               f"holds {len(results)} image(s), the test set {len(pairs)}")
        from rainkit.data.layouts import sorted_order_key

        by_clean = sorted(pairs, key=lambda p: sorted_order_key(Path(p[2])))
        return {name: result for (name, _, _), result in zip(by_clean, results, strict=True)}
    by_stem: dict[str, Path] = {}
    for path in results:
        by_stem.setdefault(path.stem, path)
    missing = [name for name, _, _ in pairs if name not in by_stem]
    if missing:
        raise CommandError(f"{len(missing)} of {len(pairs)} result(s) missing in {folder}, "
                           f"e.g. {missing[:3]} (results are matched to rainy images by name; "
                           "pass --pair_by sorted to match them by sorted order)")
    return by_stem

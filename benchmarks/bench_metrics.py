"""SSIM and MS-SSIM speed: rainkit against pytorch-msssim, piq, torchmetrics and kornia.

Every peer is set up to compute scikit-image's SSIM (Gaussian window 11, sigma 1.5, data range 1,
population covariance, valid region): msssim ``data_range=1, win_size=11, win_sigma=1.5,
size_average=False``; piq ``downsample=False, kernel_size=11, kernel_sigma=1.5, data_range=1.``;
torchmetrics ``gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0`` (it pads the
images by reflection, then crops the padded border off the map); kornia ``padding="valid"``.
Each peer's value is first compared with rainkit's, then forward and forward+backward are timed,
all methods round-robin within each repeat so that the machine's slow spells hit them alike.

MS-SSIM (``--metric ms-ssim``): every peer at its own MS-SSIM with the paper's 5 weights, window
11, sigma 1.5, data range 1: msssim ``ms_ssim(data_range=1, size_average=False)``; piq
``multi_scale_ssim(data_range=1., reduction="none")``; torchmetrics
``multiscale_structural_similarity_index_measure(data_range=1.0, reduction="none")`` (it
reflect-pads and scores all channels at once). kornia has no dyadic MS-SSIM; ``--kornia`` adds
its ``MS_SSIMLoss(alpha=1, compensation=1, reduction="none")`` (Zhao et al.'s five Gaussians, up
to 33x33, at full resolution: a different quantity, and much slower), marked ``kornia*``.

``--compile`` times rainkit's SSIM eager against ``torch.compile(ssim)`` (after warm-up).

``--table`` times evaluate-style scoring of 8-bit (result, ground truth) pairs (the rain-dev
validation pairs when ``../shared/data/rain-dev/val`` is there, else random 481x321 and 512x384
pairs): one :class:`rainkit.metrics.ScoreTable` under a convention and ``"rgb"`` (one conversion,
one preparation per convention) against the pattern it replaced, ``psnr`` and ``ssim`` called
separately under each convention (four conversions and preparations per pair), with the same
numbers.

Run by hand (never in CI), alone on the machine::

    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py
    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py --metric ms-ssim
    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py --compile
    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py --table
    .venv/bin/python benchmarks/bench_metrics.py --accuracy   # agreement with scikit-image
    .venv/bin/python benchmarks/bench_metrics.py --accuracy --metric ms-ssim   # with the peers
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rainkit.metrics import ScoreTable, ms_ssim, psnr, ssim

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _peers() -> dict[str, Metric]:
    peers: dict[str, Metric] = {}
    try:
        import pytorch_msssim

        peers["pytorch-msssim"] = lambda x, y: pytorch_msssim.ssim(
            x, y, data_range=1, win_size=11, win_sigma=1.5, size_average=False)
    except ImportError:
        pass
    try:
        import piq

        peers["piq"] = lambda x, y: piq.ssim(
            x, y, kernel_size=11, kernel_sigma=1.5, data_range=1.0, reduction="none",
            downsample=False)
    except ImportError:
        pass
    try:
        from torchmetrics.functional.image import structural_similarity_index_measure

        peers["torchmetrics"] = lambda x, y: structural_similarity_index_measure(
            x, y, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0,
            reduction="none")
    except ImportError:
        pass
    try:
        import kornia

        peers["kornia"] = lambda x, y: kornia.metrics.ssim(
            x, y, window_size=11, max_val=1.0, padding="valid").mean(dim=(1, 2, 3))
    except ImportError:
        pass
    return peers


def _ms_peers(kornia_loss: bool = False) -> dict[str, Metric]:
    peers: dict[str, Metric] = {}
    try:
        import pytorch_msssim

        peers["pytorch-msssim"] = lambda x, y: pytorch_msssim.ms_ssim(
            x, y, data_range=1, win_size=11, win_sigma=1.5, size_average=False)
    except ImportError:
        pass
    try:
        import piq

        peers["piq"] = lambda x, y: piq.multi_scale_ssim(
            x, y, kernel_size=11, kernel_sigma=1.5, data_range=1.0, reduction="none")
    except ImportError:
        pass
    try:
        from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

        peers["torchmetrics"] = lambda x, y: multiscale_structural_similarity_index_measure(
            x, y, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0,
            reduction="none")
    except ImportError:
        pass
    if kornia_loss:
        import kornia

        loss = kornia.losses.MS_SSIMLoss(alpha=1.0, compensation=1.0, reduction="none")
        peers["kornia*"] = lambda x, y: 1 - loss(x, y).mean(dim=(1, 2))
    return peers


def _interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median milliseconds of each function, timed round-robin.

    Every repeat runs each function once, starting from a different one each time, so a slow
    spell of the machine (other tenants, page-fault storms) falls on all of them alike instead
    of on whichever happened to be timed then.
    """
    for fn in fns.values():
        fn()  # warm-up
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def _forward(metric: Metric, x: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.no_grad():
            return metric(x, y)
    return run


def _forward_backward(metric: Metric, x: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        xg = x.detach().requires_grad_(True)
        loss = 1 - metric(xg, y).mean()
        loss.backward()
        return xg.grad
    return run


def accuracy() -> None:
    """Print the largest |rainkit - scikit-image| SSIM and PSNR difference over real photos."""
    from pathlib import Path

    import numpy as np
    from PIL import Image
    from scipy import ndimage
    from skimage import color, data
    from skimage.metrics import peak_signal_noise_ratio as sk_psnr
    from skimage.metrics import structural_similarity as sk_ssim

    from rainkit.metrics import psnr

    def ref(a: np.ndarray, b: np.ndarray, dr: float) -> float:
        return sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                       data_range=dr, channel_axis=-1 if a.ndim == 3 else None)

    def t(a: np.ndarray, dt: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.array(a)).permute(2, 0, 1).to(dt)

    pairs = []
    rng = np.random.default_rng(0)
    for name in ["astronaut", "chelsea", "coffee"]:
        c = getattr(data, name)() / 255.0
        pairs.append((np.clip(c + rng.normal(0, 0.05, c.shape), 0, 1), c))
        pairs.append((ndimage.gaussian_filter(c, (1.5, 1.5, 0)), c))
    rain_dev = Path("/work/shared/data/rain-dev/val")  # used when present
    for p in sorted((rain_dev / "clean").glob("*.png"))[:5]:
        c = np.asarray(Image.open(p).convert("RGB")) / 255.0
        r = np.asarray(Image.open(rain_dev / "rainy" / p.name).convert("RGB")) / 255.0
        pairs.append((r, c))
    worst: dict[tuple[str, str, str], float] = {}
    for d, c in pairs:
        y_d, y_c = color.rgb2ycbcr(d)[..., 0], color.rgb2ycbcr(c)[..., 0]
        r_rgb, r_y = ref(d, c, 1.0), ref(y_d, y_c, 255.0)
        d32, c32 = d.astype(np.float32), c.astype(np.float32)
        vals = {
            ("SSIM numpy", "float64", "RGB"): abs(ssim(d, c) - r_rgb),
            ("SSIM numpy", "float64", "Y"): abs(ssim(d, c, y_channel=True) - r_y),
            ("SSIM numpy", "float32", "RGB"): abs(ssim(d32, c32) - r_rgb),
            ("SSIM numpy", "float32", "Y"): abs(ssim(d32, c32, y_channel=True) - r_y),
        }
        for dt, nm in [(torch.float64, "float64"), (torch.float32, "float32")]:
            vals[("SSIM torch", nm, "RGB")] = abs(ssim(t(d, dt), t(c, dt)).item() - r_rgb)
            vals[("SSIM torch", nm, "Y")] = abs(
                ssim(t(d, dt), t(c, dt), y_channel=True).item() - r_y)
            vals[("PSNR torch", nm, "RGB")] = abs(
                psnr(t(d, dt), t(c, dt)).item() - sk_psnr(c, d, data_range=1.0))
        for k, v in vals.items():
            worst[k] = max(worst.get(k, 0.0), v)
    print(f"{len(pairs)} real pairs: skimage astronaut/chelsea/coffee (full size) + noise/blur, "
          "and rain-dev val rainy vs clean when present")
    for (metric, dtype, space), v in sorted(worst.items()):
        print(f"  {metric:10s} {dtype:8s} {space:4s} max |rainkit - skimage| = {v:.2e}")


def ms_accuracy() -> None:
    """Print |peer - rainkit| MS-SSIM on real photos, at sizes with and without odd scales."""
    import numpy as np
    from scipy import ndimage
    from skimage import data

    peers = _ms_peers(kornia_loss=True)
    rng = np.random.default_rng(0)
    worst: dict[tuple[str, str, str], float] = {}
    for name in ["astronaut", "chelsea", "coffee"]:
        c = getattr(data, name)() / 255.0
        for _kind, d in [("noise", np.clip(c + rng.normal(0, 0.05, c.shape), 0, 1)),
                         ("blur", ndimage.gaussian_filter(c, (1.5, 1.5, 0)))]:
            for size_name, (h, w) in [("256x288", (256, 288)), ("odd 299x283", (299, 283))]:
                for dt, dt_name in [(torch.float64, "float64"), (torch.float32, "float32")]:
                    x = torch.from_numpy(d[:h, :w]).permute(2, 0, 1)[None].to(dt)
                    y = torch.from_numpy(c[:h, :w]).permute(2, 0, 1)[None].to(dt)
                    ref = ms_ssim(x, y, reduction="none")
                    for peer, fn in peers.items():
                        diff = (fn(x, y).reshape(-1) - ref).abs().max().item()
                        key = (peer, size_name, dt_name)
                        worst[key] = max(worst.get(key, 0.0), diff)
    print("6 real pairs (astronaut, chelsea, coffee; noise sigma 0.05 and blur sigma 1.5), "
          "MS-SSIM at the defaults; kornia* is a different quantity")
    for (peer, size_name, dt_name), v in sorted(worst.items()):
        print(f"  {peer:16s} {size_name:12s} {dt_name:8s} max |peer - rainkit| = {v:.2e}")


def _table(metrics: dict[str, Metric], x: torch.Tensor, clean: torch.Tensor,
           repeats: int) -> None:
    fwd = _interleaved_medians({n: _forward(m, x, clean) for n, m in metrics.items()}, repeats)
    bwd = _interleaved_medians({n: _forward_backward(m, x, clean) for n, m in metrics.items()},
                               repeats)
    results = {name: (fwd[name], bwd[name]) for name in metrics}
    print(f"{'':16s} {'forward':>10s} {'fwd+bwd':>10s}")
    for name, (f, b) in results.items():
        print(f"{name:16s} {f:10.2f} {b:10.2f}", flush=True)
    first = next(iter(results))
    others = [v for n, v in results.items() if n != first]
    best_fwd = min(v[0] for v in others)
    best_bwd = min(v[1] for v in others)
    print(f"{'fastest other / ' + first:16s} {best_fwd / results[first][0]:9.2f}x "
          f"{best_bwd / results[first][1]:9.2f}x")


def _uint8_pairs() -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rain-dev" / "val"
    if (root / "clean").is_dir():
        from PIL import Image

        pairs = []
        for clean in sorted((root / "clean").glob("*.png")):
            read = [np.asarray(Image.open(p).convert("RGB"))
                    for p in (root / "rainy" / clean.name, clean)]
            pairs.append((read[0], read[1]))
        return f"rain-dev/val ({len(pairs)} pairs)", pairs
    rng = np.random.default_rng(0)
    shapes = [(321, 481, 3)] * 5 + [(384, 512, 3)] * 3
    return "random 8-bit pairs", [(rng.integers(0, 256, s, dtype=np.uint8),
                                   rng.integers(0, 256, s, dtype=np.uint8)) for s in shapes]


def table_benchmark(repeats: int, convention: str) -> None:
    """Evaluate-style scoring: one ScoreTable against separate psnr/ssim calls."""
    described, pairs = _uint8_pairs()
    table = ScoreTable([convention, "rgb"])

    def separate() -> list[dict[str, float]]:
        rows = []
        for result, truth in pairs:
            row = {}
            for suffix, conv in (("_y", convention), ("", "rgb")):
                row["psnr" + suffix] = psnr(result, truth, convention=conv)
                row["ssim" + suffix] = ssim(result, truth, convention=conv)
            rows.append(row)
        return rows

    def tabled() -> list[dict[str, float]]:
        return [table(result, truth) for result, truth in pairs]  # type: ignore[misc]

    assert separate() == tabled(), "the table must give the same numbers"
    medians = _interleaved_medians({"separate": separate, "table": tabled}, repeats)
    print(f"evaluate-style scoring of {described}, convention {convention!r} + 'rgb', "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {repeats} "
          f"round-robin runs")
    for name, label in (("separate", "psnr + ssim per convention (4 preparations)"),
                        ("table", "ScoreTable (1 conversion, 1 preparation per convention)")):
        print(f"  {label:58s} {medians[name]:8.1f} ms  {medians[name] / len(pairs):6.1f} ms/pair")
    print(f"  speed-up {medians['separate'] / medians['table']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metric", choices=["ssim", "ms-ssim"], default="ssim")
    parser.add_argument("--kornia", action="store_true",
                        help="with --metric ms-ssim: also time kornia's MS_SSIMLoss")
    parser.add_argument("--compile", action="store_true",
                        help="time rainkit's eager SSIM against torch.compile(ssim) instead")
    parser.add_argument("--table", action="store_true",
                        help="time evaluate-style scoring: ScoreTable against separate calls")
    parser.add_argument("--convention", default="prenet-y",
                        help="with --table: the luma convention scored beside 'rgb'")
    parser.add_argument("--accuracy", action="store_true",
                        help="print the agreement with scikit-image (SSIM) or the peers "
                        "(MS-SSIM) on real photos instead")
    args = parser.parse_args()
    if args.accuracy:
        if args.metric == "ssim":
            accuracy()
        else:
            ms_accuracy()
        return
    torch.set_num_threads(args.threads)
    if args.table:
        table_benchmark(args.repeats, args.convention)
        return
    torch.manual_seed(0)
    fn = ssim if args.metric == "ssim" else ms_ssim
    rainkit: Metric = lambda x, y: fn(x, y, reduction="none")  # noqa: E731
    if args.compile:
        compiled = torch.compile(rainkit)
        peers = {"compiled": compiled}
    else:
        peers = _peers() if args.metric == "ssim" else _ms_peers(args.kornia)
    print(f"{args.metric}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"float32 RGB, median of {args.repeats} round-robin runs (ms)")
    for batch, size in [(8, 256), (2, 512), (2, 1024)]:
        clean = torch.rand(batch, 3, size, size)
        # A realistic pair: the clean image plus noise and a blur-like shift.
        x = (0.7 * clean + 0.3 * clean.roll(1, -1) + 0.05 * torch.randn_like(clean)).clamp(0, 1)
        reference = rainkit(x, clean)
        if args.compile:  # compile (and recompile for gradients) before timing
            _forward_backward(compiled, x, clean)()
        diffs = {name: (peer(x, clean).reshape(-1) - reference).abs().max().item()
                 for name, peer in peers.items()}
        print(f"\n{batch}x3x{size}x{size}: max |other - rainkit| "
              + ", ".join(f"{n} {d:.1e}" for n, d in diffs.items()))
        _table({"rainkit": rainkit, **peers}, x, clean, args.repeats)


if __name__ == "__main__":
    main()

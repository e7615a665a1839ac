"""SSIM speed: rainkit against pytorch-msssim, piq, torchmetrics and kornia, matched settings.

Every peer is set up to compute scikit-image's SSIM (Gaussian window 11, sigma 1.5, data range 1,
population covariance, valid region): msssim ``data_range=1, win_size=11, win_sigma=1.5,
size_average=False``; piq ``downsample=False, kernel_size=11, kernel_sigma=1.5, data_range=1.``;
torchmetrics ``gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0`` (it pads the
images by reflection, then crops the padded border off the map); kornia ``padding="valid"``.
Each peer's value is first compared with rainkit's, then forward and forward+backward are timed,
all methods round-robin within each repeat so that the machine's slow spells hit them alike.

Run by hand (never in CI), alone on the machine::

    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py
    .venv/bin/python benchmarks/bench_metrics.py --accuracy   # agreement with scikit-image
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from rainkit.metrics import ssim

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--accuracy", action="store_true",
                        help="print the agreement with scikit-image on real photos instead")
    args = parser.parse_args()
    if args.accuracy:
        accuracy()
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rainkit: Metric = lambda x, y: ssim(x, y, reduction="none")  # noqa: E731
    peers = _peers()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 RGB, "
          f"median of {args.repeats} round-robin runs (ms)")
    for batch, size in [(8, 256), (2, 512), (2, 1024)]:
        clean = torch.rand(batch, 3, size, size)
        # A realistic pair: the clean image plus noise and a blur-like shift.
        x = (0.7 * clean + 0.3 * clean.roll(1, -1) + 0.05 * torch.randn_like(clean)).clamp(0, 1)
        reference = rainkit(x, clean)
        diffs = {name: (peer(x, clean).reshape(-1) - reference).abs().max().item()
                 for name, peer in peers.items()}
        print(f"\n{batch}x3x{size}x{size}: max |peer - rainkit| "
              + ", ".join(f"{n} {d:.1e}" for n, d in diffs.items()))
        print(f"{'':16s} {'forward':>10s} {'fwd+bwd':>10s}")
        metrics = {"rainkit": rainkit, **peers}
        fwd = _interleaved_medians({n: _forward(m, x, clean) for n, m in metrics.items()},
                                   args.repeats)
        bwd = _interleaved_medians({n: _forward_backward(m, x, clean)
                                    for n, m in metrics.items()}, args.repeats)
        results = {name: (fwd[name], bwd[name]) for name in metrics}
        for name, (f, b) in results.items():
            print(f"{name:16s} {f:10.2f} {b:10.2f}", flush=True)
        best_fwd = min(v[0] for n, v in results.items() if n != "rainkit")
        best_bwd = min(v[1] for n, v in results.items() if n != "rainkit")
        print(f"{'fastest peer / rainkit':16s} {best_fwd / results['rainkit'][0]:9.2f}x "
              f"{best_bwd / results['rainkit'][1]:9.2f}x")


if __name__ == "__main__":
    main()

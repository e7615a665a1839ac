"""SSIM speed: rainkit against pytorch-msssim, piq, torchmetrics and kornia, matched settings.

Every peer is set up to compute scikit-image's SSIM (Gaussian window 11, sigma 1.5, data range 1,
population covariance, valid region): msssim ``data_range=1, win_size=11, win_sigma=1.5,
size_average=False``; piq ``downsample=False, kernel_size=11, kernel_sigma=1.5, data_range=1.``;
torchmetrics ``gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0`` (it pads the
images by reflection, then crops the padded border off the map); kornia ``padding="valid"``.
Each peer's value is first compared with rainkit's, then forward and forward+backward are timed.

Run by hand (never in CI), alone on the machine::

    flock /tmp/rainkit-cpu.lock .venv/bin/python benchmarks/bench_metrics.py
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


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rainkit: Metric = lambda x, y: ssim(x, y, reduction="none")  # noqa: E731
    peers = _peers()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 RGB, "
          f"median of {args.repeats} runs (ms)")
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
        results = {}
        for name, metric in {"rainkit": rainkit, **peers}.items():
            fwd = _median_ms(_forward(metric, x, clean), args.repeats)
            bwd = _median_ms(_forward_backward(metric, x, clean), args.repeats)
            results[name] = (fwd, bwd)
            print(f"{name:16s} {fwd:10.2f} {bwd:10.2f}", flush=True)
        best_fwd = min(v[0] for n, v in results.items() if n != "rainkit")
        best_bwd = min(v[1] for n, v in results.items() if n != "rainkit")
        print(f"{'fastest peer / rainkit':16s} {best_fwd / results['rainkit'][0]:9.2f}x "
              f"{best_bwd / results['rainkit'][1]:9.2f}x")


if __name__ == "__main__":
    main()

"""One training step's loss (forward + backward): rainkit's CombinedLoss against the seed's way.

Losses: L1 + 0.1 * perceptual (VGG19 ``features[:35]``, L1) + 0.1 * contrastive, at 128x128,
batch 8, random-weight VGG19 shared by both sides, ``torch.set_num_threads(2)``.

* rainkit: ``CombinedLoss`` with one shared frozen VGG; the output goes through VGG once with
  gradients, the positive and negative together once under ``no_grad``.
* the seed's way (written out below): a trainable VGG (``requires_grad`` left on, as a plain
  ``torchvision`` trunk), one pass per image and per loss (perceptual: output, clean; contrastive:
  output, clean, rainy), autograd recording all five passes and backward filling VGG gradients.

Both contrastive formulations are timed: AECR-Net's ratio (``ContrastiveLoss``, relu1_1..relu5_1)
and the seed's pooled cosine (``EasyContrastiveLoss``, features[:35]). The script checks the
values and the gradient with respect to the output agree, and prints medians and the ratio.

Run: ``flock /tmp/rainkit-cpu.lock python benchmarks/bench_losses.py``
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from rainkit.loss import (
    CombinedLoss,
    ContrastiveLoss,
    EasyContrastiveLoss,
    PerceptualLoss,
    VGGFeatures,
)

AECR = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 20: 1 / 4, 29: 1.0}  # features index of relu{b}_1


def seed_step(trunk: nn.Sequential, contrastive: str) -> Callable[..., torch.Tensor]:
    """The seed's way: separate passes, gradients through every pass (VGG not frozen)."""

    def perceptual(out: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(trunk[:35](out), trunk[:35](gt))

    def aecr(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        def taps(x: torch.Tensor) -> list[torch.Tensor]:
            feats = []
            for i, module in enumerate(trunk[:30]):
                x = module(x)
                if i in AECR:
                    feats.append(x)
            return feats

        a, p, n = taps(out), taps(gt), taps(rainy)
        return sum(w * F.l1_loss(fa, fp.detach()) / (F.l1_loss(fa, fn.detach()) + 1e-7)
                   for w, fa, fp, fn in zip(AECR.values(), a, p, n))

    def easy(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        def f(x: torch.Tensor) -> torch.Tensor:
            return F.adaptive_avg_pool2d(trunk[:35](x), 1).flatten(1)

        f_in, f_gen, f_gt = f(rainy), f(out), f(gt)
        return (1 - F.cosine_similarity(f_gen, f_gt)).mean() + F.cosine_similarity(f_gen,
                                                                                 f_in).mean()

    contrast = aecr if contrastive == "aecr" else easy

    def step(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(out, gt) + 0.1 * perceptual(out, gt) + 0.1 * contrast(out, gt, rainy)

    return step


def training_step(
    loss_fn: Callable[..., torch.Tensor], out0: torch.Tensor, gt: torch.Tensor,
    rainy: torch.Tensor, trunk: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss part of one training step: forward, backward; returns (value, d loss / d out)."""
    trunk.zero_grad(set_to_none=True)
    out = out0.clone().requires_grad_()
    total = loss_fn(out, gt, rainy)
    total.backward()
    assert out.grad is not None
    return total.detach(), out.grad


def timed(fn: Callable[[], tuple[torch.Tensor, torch.Tensor]],
          repeats: int) -> tuple[float, tuple[torch.Tensor, torch.Tensor]]:
    """Median seconds over ``repeats`` runs after one warm-up run, and the last result."""
    result = fn()  # warm-up, dropped
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    trunk = make_layers(cfgs["E"], batch_norm=False)  # the seed's trainable torchvision trunk
    vgg = VGGFeatures(("conv5_4",), weights=None, normalize=False)
    vgg.features.load_state_dict(trunk[:35].state_dict())  # the same random weights

    shape = (args.batch, 3, args.size, args.size)
    out0, gt, rainy = torch.rand(shape), torch.rand(shape), torch.rand(shape)
    print(f"batch {args.batch}, {args.size}x{args.size}, {args.threads} threads, "
          f"{args.repeats} timed repeats (median), torch {torch.__version__}")
    print("| contrastive | rainkit CombinedLoss (s) | seed's way (s) | speed-up | "
          "max abs value diff | max abs grad diff (relative) |")
    print("|---|---|---|---|---|---|")
    for name, loss in (("AECR-Net ratio", ContrastiveLoss(vgg=vgg)),
                       ("seed pooled cosine", EasyContrastiveLoss(vgg=vgg))):
        combined = CombinedLoss({"l1": (nn.L1Loss(), 1.0),
                                 "perceptual": (PerceptualLoss(vgg=vgg), 0.1),
                                 "contrastive": (loss, 0.1)})
        assert combined.num_vgg_passes == 1
        seed = seed_step(trunk, "aecr" if name.startswith("AECR") else "easy")

        def ours(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor,
                 combined: CombinedLoss = combined) -> torch.Tensor:
            return combined(out, gt, rainy)[0]

        m_ours, (v_ours, g_ours) = timed(
            functools.partial(training_step, ours, out0, gt, rainy, trunk), args.repeats)
        m_seed, (v_seed, g_seed) = timed(
            functools.partial(training_step, seed, out0, gt, rainy, trunk), args.repeats)
        dv = (v_ours - v_seed).abs().item()
        dg = (g_ours - g_seed).abs().max().item()
        rel = dg / g_seed.abs().max().item()
        print(f"| {name} | {m_ours:.3f} | {m_seed:.3f} | {m_seed / m_ours:.2f}x | {dv:.2e} | "
              f"{dg:.2e} ({rel:.1e}) |")


if __name__ == "__main__":
    main()

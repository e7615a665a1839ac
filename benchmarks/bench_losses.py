"""VGG feature losses: memory and construction of the trunks, and the loss part of a training step.

Two parts, both with random VGG19 weights written once to a temporary torch hub folder
(``TORCH_HOME``), so the losses read a real 548 MB file through ``vgg_weights="imagenet"``:

* ``--part memory``: a criterion of L1 + perceptual + pooled-cosine contrastive + AECR-Net
  contrastive (``examples/train.py``'s with every feature loss on), built in a fresh process per
  configuration: each loss with its own ``vgg_weights="imagenet"`` (``separate``, train.py's way) or
  all of them on one ``VGGFeatures`` passed as ``vgg=`` (``shared``). Printed: construction
  time, ``torch.load`` calls, bytes read by ``read()`` calls (memory-mapped reads are not
  counted there; they show in the RSS), the peak RSS added by construction (``VmHWM`` reset
  after the imports), the RSS kept (freed memory the allocator keeps counts), the distinct
  parameters and VGG trunks the criterion holds, and its ``state_dict()``: the bytes of its
  distinct tensors and the number of keys. The file is
  written in torch's zip format and in the legacy format (torchvision's download is one or
  the other; rainkit memory-maps the first and must read the second whole). Run it with
  ``PYTHONPATH`` pointing at an older ``src`` to measure that code (``--label`` names it).
* ``--part step``: forward + backward of L1 + 0.1 perceptual (``conv5_4``, i.e.
  ``features[:35]``, L1) + 0.1 contrastive, batch 8, 128x128, for both contrastive forms
  (AECR-Net's ratio over relu1_1..relu5_1, and the pooled cosine on ``conv5_4``). Compared:

  - ``naive, frozen VGG``: the straightforward form, written out below: a torchvision trunk
    with ``requires_grad_(False)``, one pass per image and per loss (perceptual: output,
    clean; contrastive: output, clean, rainy), in the default NCHW layout. The output's two
    passes are recorded by autograd and run backward; the other three record nothing.
  - ``naive, trainable VGG``: the same with the trunk's parameters left trainable, so backward
    also computes weight gradients (this file's baseline before; it overstated rainkit's gain).
  - ``rainkit``: ``CombinedLoss`` on one shared ``VGGFeatures`` (defaults: channels_last
    inputs and weights, ReLUs in place); one pass over the output with gradients, one batched
    ``no_grad`` pass over clean + rainy, the rainy images only as deep as the contrastive loss
    needs; each L1 distance to a no-gradient target is one autograd node.
  - ``rainkit, NCHW``: the same with ``channels_last=False`` (what the layout alone gives).
  - ``rainkit, bf16 targets``: ``CombinedLoss(target_dtype=torch.bfloat16)``; changes the
    gradient by a few percent (see the columns), so it is opt-in.

  Timed round-robin (every configuration once per round, so a slow spell of a shared machine
  hits all of them), one warm-up round dropped; median and minimum seconds. The value and the
  gradient with respect to the output are compared with the frozen naive form's.

Run (the README's figures): ``flock /tmp/rainkit-cpu.lock .venv/bin/python -u
benchmarks/bench_losses.py --repeats 7`` on a quiet machine (a step is about 1.2 s here; the
ratios move by about 5% between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

AECR = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 20: 1 / 4, 29: 1.0}  # features index of relu{b}_1
WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"


# ---------------------------------------------------------------------------------------------
# memory and construction


def write_weights(home: Path, zipped: bool) -> Path:
    """A random torchvision VGG19 state dict (548 MB) as the hub cache's ImageNet file."""
    from torchvision.models import vgg19

    directory = home / "hub" / "checkpoints"
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(vgg19(weights=None).state_dict(), directory / WEIGHTS_FILE,
               _use_new_zipfile_serialization=zipped)
    return directory / WEIGHTS_FILE


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise KeyError("rchar")


def build_criterion(config: str) -> nn.Module:
    from rainkit.loss import (
        CombinedLoss,
        ContrastiveLoss,
        EasyContrastiveLoss,
        PerceptualLoss,
        VGGFeatures,
    )

    if config == "separate":
        kwargs: dict[str, object] = {}
    else:
        kwargs = {"vgg": VGGFeatures(vgg_weights="imagenet", normalize=False)}
    return CombinedLoss({
        "l1": (nn.L1Loss(), 1.0),
        "perceptual": (PerceptualLoss(**kwargs), 0.1),  # type: ignore[arg-type]
        "easy_contrastive": (EasyContrastiveLoss(**kwargs), 0.1),  # type: ignore[arg-type]
        "contrastive": (ContrastiveLoss(**kwargs), 0.1),  # type: ignore[arg-type]
    })


def memory_child(config: str) -> None:
    """Build one criterion in this fresh process and print its figures as JSON."""
    import rainkit.loss  # noqa: F401  (imports before the baseline)

    loads = []
    original = torch.load

    def counting_load(*args: object, **kwargs: object) -> object:
        loads.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    torch.load = counting_load  # type: ignore[assignment]
    # reset the peak RSS (VmHWM) to the current RSS, so the import's transient peak is not
    # counted (Linux: "5" to clear_refs)
    Path("/proc/self/clear_refs").write_text("5")
    rss0, rchar0 = _status_kb("VmRSS"), _rchar()
    start = time.perf_counter()
    criterion = build_criterion(config)
    seconds = time.perf_counter() - start
    rchar = _rchar() - rchar0
    peak = _status_kb("VmHWM")
    params = sum(p.numel() for p in criterion.parameters())  # shared parameters counted once
    trunks = {id(m) for m in criterion.modules() if type(m).__name__ == "VGGFeatures"}
    state = criterion.state_dict()
    storages = {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes()
                for v in state.values()}  # a tensor saved under several keys is stored once
    print(json.dumps({
        "seconds": seconds, "loads": len(loads), "read_mb": rchar / 2**20,
        "peak_mb": (peak - rss0) / 2**10, "kept_mb": (_status_kb("VmRSS") - rss0) / 2**10,
        "params_m": params / 1e6, "trunks": len(trunks),
        "state_mb": sum(storages.values()) / 2**20, "state_keys": len(state),
    }))


def memory_part(args: argparse.Namespace) -> None:
    print(f"## memory and construction ({args.label}; torch {torch.__version__}, "
          f"{args.threads} threads)\n")
    print("| file format | criterion | construction (s) | torch.load calls | read() MB | "
          "peak RSS added (MB) | RSS kept (MB) | VGG trunks | parameters (M) | "
          "state_dict (MB, keys) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="rainkit-bench-") as tmp:
        for zipped in (True, False):
            home = Path(tmp) / ("zip" if zipped else "legacy")
            write_weights(home, zipped)
            for config in ("separate", "shared"):
                env = dict(os.environ, TORCH_HOME=str(home), OMP_NUM_THREADS=str(args.threads))
                result = subprocess.run(
                    [sys.executable, __file__, "--memory-child", config],
                    env=env, check=True, capture_output=True, text=True,
                )
                r = json.loads(result.stdout.strip().splitlines()[-1])
                print(f"| {'zip' if zipped else 'legacy'} | {config} | {r['seconds']:.2f} | "
                      f"{r['loads']} | {r['read_mb']:.0f} | {r['peak_mb']:.0f} | "
                      f"{r['kept_mb']:.0f} | {r['trunks']} | {r['params_m']:.1f} | "
                      f"{r['state_mb']:.0f}, {r['state_keys']} |", flush=True)
    print()


# ---------------------------------------------------------------------------------------------
# step time


def naive_step(trunk: nn.Sequential, contrastive: str) -> Callable[..., torch.Tensor]:
    """One pass per image and per loss, in torchvision's NCHW trunk (frozen or not)."""

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

    def pooled_cosine(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        def f(x: torch.Tensor) -> torch.Tensor:
            return F.adaptive_avg_pool2d(trunk[:35](x), 1).flatten(1)

        f_in, f_gen, f_gt = f(rainy), f(out), f(gt)
        return ((1 - F.cosine_similarity(f_gen, f_gt)).mean()
                + F.cosine_similarity(f_gen, f_in).mean())

    contrast = aecr if contrastive == "aecr" else pooled_cosine

    def step(out: torch.Tensor, gt: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(out, gt) + 0.1 * perceptual(out, gt) + 0.1 * contrast(out, gt, rainy)

    return step


def step_part(args: argparse.Namespace) -> None:
    from torchvision.models import vgg19

    from rainkit.loss import (
        CombinedLoss,
        ContrastiveLoss,
        EasyContrastiveLoss,
        PerceptualLoss,
        VGGFeatures,
    )

    # torchvision's VGG initialisation (Kaiming normal, zero biases): deep features stay
    # image-dependent, as with trained weights. (PyTorch's default convolution initialisation
    # makes them nearly the same for every image, so that L1 terms sit at near-ties and their
    # sign() gradients flip at float rounding.)
    torch.manual_seed(0)
    frozen = vgg19(weights=None).features.requires_grad_(False)
    trainable = vgg19(weights=None).features
    trainable.load_state_dict(frozen.state_dict())
    with tempfile.TemporaryDirectory(prefix="rainkit-bench-") as tmp:
        path = Path(tmp) / "vgg19.pth"  # the same random weights for every configuration
        torch.save({f"features.{k}": v for k, v in frozen.state_dict().items()}, path)
        vggs = {cl: VGGFeatures(vgg_weights=path, normalize=False, channels_last=cl)
                for cl in (True, False)}

    shape = (args.batch, 3, args.size, args.size)
    out0, gt, rainy = torch.rand(shape), torch.rand(shape), torch.rand(shape)
    print(f"## step: batch {args.batch}, {args.size}x{args.size}, {args.threads} threads, "
          f"{args.repeats} round-robin rounds after a warm-up round ({args.label}; torch "
          f"{torch.__version__})\n")
    for form, cls in (("AECR-Net ratio", ContrastiveLoss), ("pooled cosine", EasyContrastiveLoss)):
        def combined(vgg: VGGFeatures, target_dtype: torch.dtype | None = None,
                     cls: type = cls) -> Callable[..., torch.Tensor]:
            loss = CombinedLoss({"l1": (nn.L1Loss(), 1.0),
                                 "perceptual": (PerceptualLoss(vgg=vgg), 0.1),
                                 "contrastive": (cls(vgg=vgg), 0.1)}, target_dtype=target_dtype)
            assert loss.num_vgg_passes == 1
            return lambda out, gt, rainy: loss(out, gt, rainy)[0]

        kind = "aecr" if cls is ContrastiveLoss else "cosine"
        configs: dict[str, tuple[Callable[..., torch.Tensor], nn.Module | None]] = {
            "naive, frozen VGG": (naive_step(frozen, kind), None),
            "naive, trainable VGG": (naive_step(trainable, kind), trainable),
            "rainkit": (combined(vggs[True]), None),
            "rainkit, NCHW": (combined(vggs[False]), None),
            "rainkit, bf16 targets": (combined(vggs[True], torch.bfloat16), None),
        }

        def run(fn: Callable[..., torch.Tensor],
                params: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
            if params is not None:
                params.zero_grad(set_to_none=True)
            out = out0.clone().requires_grad_()
            total = fn(out, gt, rainy)
            total.backward()
            assert out.grad is not None
            return total.detach(), out.grad

        times: dict[str, list[float]] = {name: [] for name in configs}
        results = {name: run(*c) for name, c in configs.items()}  # warm-up round
        for _ in range(args.repeats):
            for name, c in configs.items():
                start = time.perf_counter()
                run(*c)
                times[name].append(time.perf_counter() - start)
        v_ref, g_ref = results["naive, frozen VGG"]
        base = statistics.median(times["naive, frozen VGG"])
        old = statistics.median(times["naive, trainable VGG"])
        print(f"### {form}\n")
        print("| configuration | median (s) | min (s) | naive frozen / this | "
              "naive trainable / this | value diff (rel.) | grad diff: max abs (rel. to max), "
              "norm rel. |")
        print("|---|---|---|---|---|---|---|")
        for name in configs:
            med, low = statistics.median(times[name]), min(times[name])
            v, g = results[name]
            dv = (v - v_ref).abs().item() / v_ref.abs().item()
            dg = (g - g_ref).abs().max().item()
            rel = dg / g_ref.abs().max().item()
            norm = ((g - g_ref).norm() / g_ref.norm()).item()
            print(f"| {name} | {med:.3f} | {low:.3f} | {base / med:.2f}x | {old / med:.2f}x | "
                  f"{dv:.1e} | {dg:.1e} ({rel:.1e}), {norm:.1e} |", flush=True)
        print()
        print("all rounds (s): " + "; ".join(
            f"{name}: " + " ".join(f"{t:.2f}" for t in ts) for name, ts in times.items()))
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("memory", "step", "all"), default="all")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--label", default="this checkout", help="names the code measured")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.part in ("memory", "all"):
        memory_part(args)
    if args.part in ("step", "all"):
        step_part(args)


if __name__ == "__main__":
    main()

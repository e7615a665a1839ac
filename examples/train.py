"""Train or evaluate a rainkit deraining network.

The full training loop: paired or synthetic data, a network from :data:`rainkit.nn.MODELS`, a
weighted sum of losses from :mod:`rainkit.loss`, Adam with a cosine schedule, validation every
epoch (PSNR and SSIM on RGB and on Y, LPIPS when its weights are present), the best checkpoint by
PSNR, sample grids, a CSV log, atomic checkpoints and an exact ``--resume``. The same script runs
under ``torchrun --nproc_per_node=N`` with DistributedDataParallel.

Examples::

    python examples/train.py --demo                      # synthetic rain on scikit-image photos
    python examples/train.py --data_dir /data/rain-dev/train --val_dir /data/rain-dev/val
    python examples/train.py --mode test --checkpoint runs/train/best.pt --val_dir /data/val
    torchrun --nproc_per_node=2 examples/train.py --data_dir ... --device cpu

Run ``python examples/train.py --help`` for every flag; examples/README.md documents the default
recipe and its measured scores.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from rainkit.data import (
    PairedRainDataset,
    SyntheticRainDataset,
    find_pairs,
    save_image,
    synthesize_rain,
)

# The default recipe, tuned on rain-dev (see examples/README.md for the numbers).
DEFAULTS: dict[str, Any] = {
    "model": "unet",
    "model_kwargs": '{"base_channels": 16}',
    "epochs": 170,
    "batch_size": 8,
    "lr": 1e-3,
    "patch_size": 64,
    "repeat": 32,
    "lambda_charbonnier": 1.0,
    "lambda_ssim": 0.2,
    "lambda_perceptual": 0.04,
    "lambda_easy_contrastive": 0.1,
    "lambda_contrastive": 0.1,
}
DEMO_TRAIN_PHOTOS = ("astronaut", "rocket", "immunohistochemistry", "camera", "brick", "coins",
                     "hubble_deep_field", "moon")
DEMO_VAL_PHOTOS = ("coffee", "chelsea")
CHECKPOINT_FORMAT = 1
CACHE_AUTO_GIB = 2  # --cache auto keeps decoded images in memory up to this size


# --------------------------------------------------------------------------- arguments
def build_parser() -> argparse.ArgumentParser:
    from rainkit.nn import MODELS

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--mode", choices=("train", "test"), default="train")
    p.add_argument("--demo", action="store_true",
                   help="synthetic rain on photos shipped with scikit-image; short CPU training")
    p.add_argument("--data_dir", type=Path, default=None,
                   help="training pairs (rainy/+clean/, input/+target/, rain/+norain/, data/+gt/ "
                        "or rain-N/norain-N files); none: synthetic rain on scikit-image photos")
    p.add_argument("--val_dir", type=Path, default=None,
                   help="validation pairs; default <data_dir>/../val if it exists, else a split")
    p.add_argument("--val_split", type=float, default=0.1,
                   help="fraction of --data_dir held out when there is no validation folder")
    p.add_argument("--model", choices=sorted(MODELS), default=None,
                   help=f"network (training default: {DEFAULTS['model']}; test: the checkpoint's)")
    p.add_argument("--model_kwargs", default=None,
                   help=f"JSON keyword arguments of the network (default: "
                        f"{DEFAULTS['model_kwargs']} for {DEFAULTS['model']}, none for the others)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="checkpoint to test, or to resume from (default <out_dir>/last.pt)")
    p.add_argument("--resume", action="store_true", help="continue training from a checkpoint")
    p.add_argument("--out_dir", type=Path, default=Path("runs/train"))
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--batch_size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--min_lr_ratio", type=float, default=0.01,
                   help="the cosine schedule ends at lr * min_lr_ratio")
    p.add_argument("--patch_size", type=int, default=DEFAULTS["patch_size"])
    p.add_argument("--repeat", type=int, default=DEFAULTS["repeat"],
                   help="random patches per training image in one epoch")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--cache", choices=("auto", "on", "off"), default="auto",
                   help="keep decoded training and validation images in memory (3 bytes a pixel "
                        "for 8-bit files); decoding dominates small-patch epochs (rain-dev: 8.3 "
                        "-> 1.9 s an epoch). auto: on when the decoded images, estimated from "
                        f"the file headers, take at most {CACHE_AUTO_GIB} GiB. Use with --workers "
                        "0: workers restart every epoch, so their caches would not last")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto",
                   help="auto (cuda, then mps, then cpu), cpu, cuda, ...")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--amp", action="store_true",
                   help="mixed precision (float16 + GradScaler on CUDA, bfloat16 on CPU)")
    p.add_argument("--channels_last", action="store_true",
                   help="NHWC memory layout for the model and its input (measured 1.07-1.35x "
                        "faster training steps on CPU for every rainkit network; see "
                        "benchmarks/README.md)")
    p.add_argument("--use_perceptual_loss", action="store_true")
    p.add_argument("--use_easy_contrastive_loss", action="store_true")
    p.add_argument("--use_contrastive_loss", action="store_true")
    for term in ("charbonnier", "ssim", "perceptual", "easy_contrastive", "contrastive"):
        p.add_argument(f"--lambda_{term}", type=float, default=DEFAULTS[f"lambda_{term}"],
                       help=f"weight of the {term} loss term")
    p.add_argument("--vgg_weights", default="imagenet",
                   help="VGG19 weights of the feature losses: imagenet (torch hub cache), a path, "
                        "or none (random, for tests)")
    p.add_argument("--lpips_weights", default="imagenet",
                   help="AlexNet weights of LPIPS: imagenet (torch hub cache), a path, or none "
                        "(skip LPIPS)")
    p.add_argument("--max_val_size", type=int, default=None,
                   help="centre-crop validation images to at most this side (speed)")
    p.add_argument("--num_samples", type=int, default=2, help="validation images in sample grids")
    p.add_argument("--no_progress", action="store_true", help="no tqdm bars")
    return p


def finalize_args(args: argparse.Namespace, parser: argparse.ArgumentParser,
                  argv: Sequence[str]) -> None:
    if args.demo:
        # Small enough for a few CPU minutes on two cores.
        given = {arg.split("=", 1)[0] for arg in argv}
        explicit = {a.dest for a in parser._actions if set(a.option_strings) & given}
        # Charbonnier only: the SSIM term of the rain-dev recipe was not tried on the demo.
        demo = {"epochs": 150, "patch_size": 64, "batch_size": 8, "repeat": 16,
                "lr": 2e-3, "lambda_ssim": 0.0, "out_dir": Path("runs/demo"),
                "max_val_size": 256}
        if not {"model", "model_kwargs"} & explicit:
            demo["model_kwargs"] = '{"base_channels": 16}'  # small, whatever the recipe's width
        for key, value in demo.items():
            if key not in explicit:
                setattr(args, key, value)
    for name in ("epochs", "batch_size", "patch_size", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    if args.mode == "test" and args.checkpoint is None:
        parser.error("--mode test needs --checkpoint")
    if args.mode == "train" and args.lambda_ssim > 0:
        from rainkit.loss import SSIMLoss

        window = SSIMLoss().window_size  # the SSIM term build_criterion adds
        if args.patch_size < window:
            parser.error(f"--patch_size must be >= {window} (the SSIM loss window) while "
                         f"--lambda_ssim > 0, got {args.patch_size}; pass --lambda_ssim 0 to "
                         "train on smaller patches")
    for flag in ("vgg_weights", "lpips_weights"):
        if getattr(args, flag).lower() == "none":
            setattr(args, flag, None)


# --------------------------------------------------------------------------- distributed
def init_distributed(device_flag: str) -> tuple[int, int, int]:
    """Join the process group when launched by torchrun; return (rank, world size, local rank)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_flag in ("auto", "cuda")
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return rank, world, local_rank


def pick_device(flag: str, local_rank: int) -> torch.device:
    if flag == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(flag)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def all_reduce_sum(values: dict[str, float], device: torch.device) -> dict[str, float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    keys = sorted(values)
    buffer = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    if device.type != "cuda":
        buffer = buffer.cpu()
    dist.all_reduce(buffer)
    return {k: float(v) for k, v in zip(keys, buffer.tolist())}


# --------------------------------------------------------------------------- random state
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global state is what libraries use
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors and primitives (loadable with ``weights_only=True``)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python_version": version,
        "python_state": torch.tensor(mt, dtype=torch.int64),
        "python_gauss": gauss,
        "numpy_name": name,
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(
        (state["python_version"], tuple(state["python_state"].tolist()), state["python_gauss"])
    )
    numpy_state = (state["numpy_name"], state["numpy_keys"].numpy().astype(np.uint32),
                   state["numpy_pos"], state["numpy_has_gauss"], state["numpy_cached"])
    np.random.set_state(numpy_state)  # noqa: NPY002
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` atomically: a temporary file in the same folder, fsync, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "model" not in state or "model_name" not in state:
        raise ValueError(f"{path} is not a rainkit examples/train.py checkpoint")
    return state


def build_from_checkpoint(state: dict[str, Any], path: Path, requested: str | None) -> nn.Module:
    from rainkit.nn import build_model

    name, kwargs = state["model_name"], dict(state.get("model_kwargs", {}))
    if requested is not None and requested != name:
        raise SystemExit(
            f"error: {path} holds a {name!r} network (kwargs {kwargs}), not {requested!r}; "
            f"drop --model or pass --model {name}"
        )
    model = build_model(name, **kwargs)
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as err:
        raise SystemExit(
            f"error: the weights in {path} do not fit a {name!r} network with kwargs {kwargs}:\n"
            f"{err}"
        ) from None
    return model


# --------------------------------------------------------------------------- data
def skimage_photos(names: Sequence[str]) -> list[torch.Tensor]:
    """Photos shipped inside scikit-image, as (3, H, W) float tensors (no download)."""
    from skimage import data as skdata

    photos = []
    for name in names:
        array = np.asarray(getattr(skdata, name)())
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        scale = 65535.0 if array.dtype == np.uint16 else 255.0
        array = array[:, :, :3].astype(np.float32) / scale
        photos.append(torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))))
    return photos


class FixedPairs(Dataset):
    """Fixed validation pairs held in memory."""

    def __init__(self, pairs: list[tuple[torch.Tensor, torch.Tensor, str]]) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        return self.pairs[index]


def synthetic_val_pairs(photos: list[torch.Tensor], names: Sequence[str], seed: int
                        ) -> FixedPairs:
    pairs = []
    for index, (photo, name) in enumerate(zip(photos, names)):
        rainy, _ = synthesize_rain(photo, density=0.004, length=15.0, angle=10.0 - 20.0 * index,
                                   width=1.2, brightness=0.8, blur=0.5, seed=seed + 1000 + index)
        pairs.append((rainy, photo, name))
    return FixedPairs(pairs)


def decoded_size(folders: Sequence[Path]) -> int:
    """Bytes the decoded images of these dataset folders take, read from the file headers."""
    from PIL import Image

    total = 0
    for folder in folders:
        for _, *paths in find_pairs(folder):
            for path in paths:
                try:
                    with Image.open(path) as img:
                        width, height = img.size
                        wide = img.mode.startswith(("I", "F"))  # 16-bit PNG, float TIFF
                except (OSError, ValueError):
                    continue  # the dataset names the bad file when it reads it
                total += 3 * width * height * (4 if wide else 1)
    return total


def decide_cache(mode: str, folders: Sequence[Path]) -> tuple[bool, str]:
    """Whether to keep decoded images in memory, and a note saying so."""
    if mode != "auto":
        return mode == "on", f"image cache {mode}"
    size = decoded_size(folders) / 2**30
    cache = size <= CACHE_AUTO_GIB
    return cache, (f"image cache {'on' if cache else 'off'} (auto: {size:.2f} GiB decoded, "
                   f"limit {CACHE_AUTO_GIB} GiB)")


def build_datasets(args: argparse.Namespace) -> tuple[Dataset, Dataset | None, str]:
    """Return (training set, validation set, description); the training set is empty in test
    mode."""
    if args.mode == "test" and (args.val_dir or args.data_dir):
        folder = args.val_dir or args.data_dir
        return FixedPairs([]), PairedRainDataset(folder), str(folder)
    if args.data_dir is None:
        train_photos = skimage_photos(DEMO_TRAIN_PHOTOS)
        val = synthetic_val_pairs(skimage_photos(DEMO_VAL_PHOTOS), DEMO_VAL_PHOTOS, args.seed)
        train = SyntheticRainDataset(train_photos, patch_size=args.patch_size,
                                     samples_per_image=args.repeat, augment=True, seed=args.seed)
        return train, val, (f"synthetic rain on scikit-image photos: train {DEMO_TRAIN_PHOTOS}, "
                            f"validation {DEMO_VAL_PHOTOS}")
    val_dir = args.val_dir
    if val_dir is None and (args.data_dir.parent / "val").is_dir() and \
            args.data_dir.resolve() != (args.data_dir.parent / "val").resolve():
        val_dir = args.data_dir.parent / "val"
    cache, cache_note = decide_cache(args.cache, [args.data_dir] + ([val_dir] if val_dir else []))
    full = PairedRainDataset(args.data_dir, patch_size=args.patch_size, augment=True, cache=cache)
    if val_dir is not None:
        train: Dataset = full
        val: Dataset = PairedRainDataset(val_dir, cache=cache)
        where = f"train {args.data_dir} ({len(full)} pairs), validation {val_dir}"
    else:
        order = np.random.default_rng(args.seed).permutation(len(full)).tolist()
        n_val = max(1, round(args.val_split * len(full))) if len(full) > 1 else 0
        train = Subset(full, sorted(order[n_val:]))
        val = Subset(PairedRainDataset(args.data_dir, cache=cache), sorted(order[:n_val]))
        where = f"{args.data_dir}: {len(train)} training, {n_val} validation pairs (split)"
    where += f"; {cache_note}"
    if args.repeat > 1:
        train = ConcatDataset([train] * args.repeat)
    return train, val, where


# --------------------------------------------------------------------------- losses, metrics
def build_criterion(args: argparse.Namespace) -> tuple[nn.Module, bool]:
    """The weighted loss and whether it needs the rainy image as a negative."""
    from rainkit.loss import (
        CharbonnierLoss,
        CombinedLoss,
        ContrastiveLoss,
        EasyContrastiveLoss,
        PerceptualLoss,
        SSIMLoss,
    )

    terms: dict[str, tuple[nn.Module, float]] = {}
    if args.lambda_charbonnier > 0:
        terms["charbonnier"] = (CharbonnierLoss(), args.lambda_charbonnier)
    if args.lambda_ssim > 0:
        terms["ssim"] = (SSIMLoss(), args.lambda_ssim)
    weights = args.vgg_weights
    try:
        if args.use_perceptual_loss:
            terms["perceptual"] = (PerceptualLoss(weights=weights), args.lambda_perceptual)
        if args.use_easy_contrastive_loss:
            terms["easy_contrastive"] = (EasyContrastiveLoss(weights=weights),
                                         args.lambda_easy_contrastive)
        if args.use_contrastive_loss:
            terms["contrastive"] = (ContrastiveLoss(weights=weights), args.lambda_contrastive)
    except FileNotFoundError as err:
        raise SystemExit(
            f"error: a VGG19 feature loss was requested but its weights are missing.\n{err}\n"
            f"Put the file there, pass --vgg_weights /path/to/vgg19.pth, or drop the "
            f"--use_*_loss flags."
        ) from None
    if not terms:
        raise SystemExit("error: every loss weight is zero; nothing to train")
    needs_negative = args.use_easy_contrastive_loss or args.use_contrastive_loss
    return CombinedLoss(terms), needs_negative


class Evaluator:
    """PSNR/SSIM on RGB and Y, plus LPIPS when its weights can be loaded."""

    def __init__(self, lpips_weights: str | None, device: torch.device, rank: int) -> None:
        import rainkit.metrics

        self.lpips = None
        if lpips_weights is None:
            return
        try:
            self.lpips = rainkit.metrics.LPIPS(net="alex", weights=lpips_weights).to(device).eval()
        except FileNotFoundError as err:
            if rank == 0:
                first = str(err).splitlines()[0] if str(err) else "file missing"
                print(f"notice: LPIPS skipped, AlexNet weights not found: {first}", flush=True)

    @torch.no_grad()
    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        from rainkit.metrics import psnr, ssim

        output = output.clamp(0, 1)
        scores = {
            "psnr": psnr(output, target, data_range=1.0).item(),
            "ssim": ssim(output, target, data_range=1.0).item(),
            "psnr_y": psnr(output, target, data_range=1.0, y_channel=True).item(),
            "ssim_y": ssim(output, target, data_range=1.0, y_channel=True).item(),
        }
        if self.lpips is not None:
            scores["lpips"] = self.lpips(output, target).mean().item()
        return scores


def centre_crop(image: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None:
        return image
    h, w = image.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top:top + size, left:left + size]


def validate(model: nn.Module, val: Dataset, evaluator: Evaluator, device: torch.device,
             rank: int, world: int, max_size: int | None, keep: int
             ) -> tuple[dict[str, float], dict[str, float], list[tuple[str, torch.Tensor]]]:
    """Mean output and input scores over the validation set, shared out across ranks."""
    model.eval()
    totals: dict[str, float] = {}
    input_totals: dict[str, float] = {}
    grids = []
    count = 0
    for index in range(rank, len(val), world):
        rainy, clean, name = val[index]
        rainy = centre_crop(rainy, max_size)[None].to(device)
        clean = centre_crop(clean, max_size)[None].to(device)
        with torch.no_grad():
            output = model(rainy).float().clamp(0, 1)
        for key, value in evaluator(output, clean).items():
            totals[key] = totals.get(key, 0.0) + value
        for key, value in evaluator(rainy, clean).items():
            input_totals[key] = input_totals.get(key, 0.0) + value
        count += 1
        if len(grids) < keep:
            grids.append((name, torch.cat([rainy[0], output[0], clean[0]], dim=-1).cpu()))
    totals = all_reduce_sum({**totals, "_count": float(count)}, device)
    input_totals = all_reduce_sum({**input_totals, "_count": float(count)}, device)
    n = max(totals.pop("_count"), 1.0)
    input_n = max(input_totals.pop("_count"), 1.0)
    model.train()
    means = {k: v / n for k, v in totals.items()}
    return means, {k: v / input_n for k, v in input_totals.items()}, grids


def format_scores(scores: dict[str, float]) -> str:
    parts = [f"PSNR {scores['psnr']:.2f} dB", f"SSIM {scores['ssim']:.4f}",
             f"Y-PSNR {scores['psnr_y']:.2f} dB", f"Y-SSIM {scores['ssim_y']:.4f}"]
    if "lpips" in scores:
        parts.append(f"LPIPS {scores['lpips']:.4f}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- main loops
def cycle_loader(loader: DataLoader) -> Iterator[Any]:  # pragma: no cover - helper
    while True:
        yield from loader


def run_test(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> None:
    state = load_checkpoint(args.checkpoint)
    model = build_from_checkpoint(state, args.checkpoint, args.model).to(device)
    _, val, where = build_datasets(args)
    evaluator = Evaluator(args.lpips_weights, device, rank)
    scores, input_scores, _ = validate(model, val, evaluator, device, rank, world,
                                       args.max_val_size, keep=0)
    if rank == 0:
        print(f"test on {where} ({len(val)} pairs) with {args.checkpoint} "
              f"({state['model_name']}, epoch {state['epoch']})")
        print(f"  input : {format_scores(input_scores)}")
        print(f"  output: {format_scores(scores)}")
        out = args.out_dir / "test"
        for index in range(len(val)):
            rainy, _, name = val[index]
            with torch.no_grad():
                output = model(centre_crop(rainy, args.max_val_size)[None].to(device))
            save_image(output[0].float().clamp(0, 1).cpu(), out / f"{name}.png")
        print(f"  derained images written to {out}")


def run_train(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> None:
    from rainkit.nn import build_model

    distributed = world > 1
    seed_everything(args.seed)
    train_set, val_set, where = build_datasets(args)
    resume_state = None
    if args.resume:
        path = args.checkpoint or args.out_dir / "last.pt"
        resume_state = load_checkpoint(path)
        model = build_from_checkpoint(resume_state, path, args.model)
        model_name = resume_state["model_name"]
        model_kwargs = dict(resume_state["model_kwargs"])
    else:
        model_name = args.model or DEFAULTS["model"]
        # the recipe's kwargs belong to the recipe's network; another --model gets its defaults
        default_kwargs = DEFAULTS["model_kwargs"] if model_name == DEFAULTS["model"] else "{}"
        model_kwargs = json.loads(args.model_kwargs or default_kwargs)
        model = build_model(model_name, **model_kwargs)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    criterion, needs_negative = build_criterion(args)
    criterion = criterion.to(device)
    net: nn.Module = model
    if distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed) if distributed else None
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None,
                        sampler=sampler, num_workers=args.workers, drop_last=len(train_set) >=
                        args.batch_size * world, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    steps_per_epoch = max(1, len(loader))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * steps_per_epoch, eta_min=args.lr * args.min_lr_ratio)
    use_scaler = args.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    start_epoch, best_psnr = 0, -math.inf
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        if use_scaler and resume_state.get("scaler"):
            scaler.load_state_dict(resume_state["scaler"])
        start_epoch, best_psnr = resume_state["epoch"], resume_state["best_psnr"]
        set_rng_state(resume_state["rng"])
    evaluator = Evaluator(args.lpips_weights, device, rank)
    out = args.out_dir
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"data: {where}\nmodel: {model_name} {model_kwargs} ({n_params:,} parameters) on "
              f"{device}, {world} process(es); losses: {', '.join(criterion_names(criterion))}; "
              f"{args.epochs} epochs x {steps_per_epoch} steps", flush=True)
        if start_epoch:
            print(f"resumed from epoch {start_epoch} (best PSNR {best_psnr:.2f} dB)", flush=True)
    args_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    log_path = out / "log.csv"
    for epoch in range(start_epoch, args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        for dataset in _leaves(train_set):
            if isinstance(dataset, SyntheticRainDataset):
                dataset.set_epoch(epoch)
        net.train()
        sums: dict[str, float] = {}
        start = time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False,
                   disable=rank != 0 or args.no_progress, dynamic_ncols=True)
        for rainy, clean, _ in bar:
            rainy = rainy.to(device, non_blocking=True).contiguous(memory_format=memory_format)
            clean = clean.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
                output = net(rainy)
            total, terms = criterion(output.float(), clean, rainy if needs_negative else None)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            values = {"loss": total.item(), **{k: float(v) for k, v in terms.items()}}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
        bar.close()
        seconds = time.perf_counter() - start
        train_means = all_reduce_sum({**sums, "_n": float(len(loader))}, device)
        steps = max(train_means.pop("_n"), 1.0)
        train_means = {k: v / steps for k, v in train_means.items()}
        scores, input_scores, grids = validate(model, val_set, evaluator, device, rank, world,
                                              args.max_val_size, args.num_samples)
        improved = scores.get("psnr", -math.inf) > best_psnr
        best_psnr = max(best_psnr, scores.get("psnr", -math.inf))
        if rank == 0:
            state = {
                "format": CHECKPOINT_FORMAT,
                "model_name": model_name,
                "model_kwargs": model_kwargs,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if use_scaler else {},
                "epoch": epoch + 1,
                "best_psnr": best_psnr,
                "scores": scores,
                "rng": rng_state(),
                "args": args_dict,
            }
            if improved:
                save_checkpoint(state, out / "best.pt")
            save_checkpoint(state, out / "last.pt")
            for name, grid in grids:
                save_image(grid, out / "samples" / f"epoch{epoch + 1:03d}_{name}.png")
            row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"],
                   "seconds": round(seconds, 2),
                   **{f"train_{k}": round(v, 6) for k, v in train_means.items()},
                   **{f"val_{k}": round(v, 6) for k, v in scores.items()}}
            new = not log_path.exists()
            with open(log_path, "a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)
            losses = " ".join(f"{k} {v:.4f}" for k, v in train_means.items())
            print(f"epoch {epoch + 1}/{args.epochs} [{seconds:.1f}s] {losses} | val "
                  f"{format_scores(scores)} (input {input_scores['psnr_y']:.2f} dB Y)"
                  + (" *best*" if improved else ""), flush=True)
        if distributed:
            dist.barrier()
    if rank == 0:
        print(f"done: best PSNR {best_psnr:.2f} dB; checkpoints, samples/ and log.csv in {out}",
              flush=True)
        if args.demo or args.data_dir is None:
            demo_report(model, val_set, evaluator, device, out)


def demo_report(model: nn.Module, val: Dataset, evaluator: Evaluator, device: torch.device,
                out: Path) -> None:
    """Print input and output scores on the held-out photos and save a before/after PNG."""
    model.eval()
    rows = []
    print("held-out photos (full size):")
    for index in range(len(val)):
        rainy, clean, name = val[index]
        with torch.no_grad():
            output = model(rainy[None].to(device)).float().clamp(0, 1).cpu()
        before, after = evaluator(rainy[None], clean[None]), evaluator(output, clean[None])
        print(f"  {name:10s} rainy  : PSNR {before['psnr']:.2f} dB, SSIM {before['ssim']:.4f}\n"
              f"  {name:10s} derained: PSNR {after['psnr']:.2f} dB, SSIM {after['ssim']:.4f}")
        rows.append(torch.cat([rainy, output[0], clean], dim=-1))
    width = max(r.shape[-1] for r in rows)
    grid = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[-1])) for r in rows], dim=-2)
    path = out / "before_after.png"
    save_image(grid, path)
    print(f"before/after image (rainy | derained | clean): {path.resolve()}")


def _leaves(dataset: Dataset) -> Iterator[Dataset]:
    if isinstance(dataset, ConcatDataset):
        for child in dataset.datasets:
            yield from _leaves(child)
    elif isinstance(dataset, Subset):
        yield from _leaves(dataset.dataset)
    else:
        yield dataset


def criterion_names(criterion: nn.Module) -> list[str]:
    terms = getattr(criterion, "losses", None)
    if terms is not None and hasattr(terms, "keys"):
        return list(terms.keys())
    return [type(criterion).__name__]


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    finalize_args(args, parser, argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rank, world, local_rank = init_distributed(args.device)
    device = pick_device(args.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        if args.mode == "test":
            run_test(args, device, rank, world)
        else:
            run_train(args, device, rank, world)
        if world > 1:
            dist.barrier()  # every rank finishes its work before the group is torn down
    finally:
        if dist.is_available() and dist.is_initialized():
            # DDP's reducer holds the process group, and DDP objects sit in reference cycles:
            # collect them first, so that gloo's worker threads are joined here and not during
            # interpreter shutdown (where a rank can abort with "terminate called without an
            # active exception" after all its work is done).
            gc.collect()
            dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Train or evaluate a rainkit deraining network.

Paired or synthetic data, a network from rainkit.nn.MODELS, a weighted sum of rainkit.loss terms
(or --loss paper: the loss of the network's paper over all its outputs, e.g. MPRNet's three
stages), Adam with a per-step cosine schedule, validation every epoch (PSNR and SSIM on RGB and Y,
LPIPS when its weights are present), sample grids, log.csv, and rainkit.checkpoint files (last.pt
every epoch, best.pt by PSNR) with an exact --resume; under torchrun, DistributedDataParallel.

examples:
  python examples/train.py --demo                    # synthetic rain on scikit-image photos
  python examples/train.py --data_dir /data/rain-dev/train --val_dir /data/rain-dev/val
  python examples/train.py --out_dir runs/train --resume             # continue a stopped run
  python examples/train.py --data_dir /data/mine --init_from runs/train/best.pt   # fine-tune
  python examples/train.py --model mprnet --loss paper --data_dir /data/rain-dev/train  # its loss
  python examples/train.py --mode test --checkpoint runs/train/best.pt --val_dir /data/val
  torchrun --nproc_per_node=2 examples/train.py --data_dir /data/rain-dev/train --device cpu

rules that keep your work (in full: examples/README.md, docs/guides/training.rst "Resuming"):
  a new run refuses an --out_dir holding a run: --resume continues it, --overwrite replaces it;
  --resume takes the stored settings and refuses flags that change the run (fine-tune instead:
  --init_from <out_dir>/last.pt); the first non-finite loss stops training, last.pt kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import runpy
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

import rainkit
import rainkit.checkpoint
import rainkit.data
import rainkit.loss
import rainkit.metrics
import rainkit.nn
import rainkit.training

# The default recipe, tuned on rain-dev (examples/README.md has the runs it came from).
RECIPE: dict[str, Any] = {
    "model": "unet", "model_kwargs": {"base_channels": 16},
    "epochs": 170, "batch_size": 8, "patch_size": 64, "repeat": 32, "lr": 1e-3,
    "min_lr_ratio": 0.01, "lambda_charbonnier": 1.0, "lambda_ssim": 0.2,
    "lambda_perceptual": 0.04, "lambda_easy_contrastive": 0.1, "lambda_contrastive": 0.1,
}
# --demo: a few CPU minutes on synthetic rain; Charbonnier only (SSIM was not tried on it).
# lr 2e-3: with Kaiming everywhere it collapsed the untrained UNet to the identity for 2 of 3
# seeds (1e-3 was used then); since the networks start at the identity (rainkit.init) it
# trains: 21.98 -> 31.67 dB Y-PSNR on the demo's validation crops (seed 0, 2026-12-07).
DEMO: dict[str, Any] = {"epochs": 150, "batch_size": 8, "patch_size": 64, "repeat": 16,
                        "lr": 2e-3, "lambda_ssim": 0.0, "max_val_size": 256,
                        "out_dir": Path("runs/demo")}
TERMS = ("charbonnier", "ssim", "perceptual", "easy_contrastive", "contrastive")
FEATURE_LOSSES = {"perceptual": rainkit.loss.PerceptualLoss,
                  "easy_contrastive": rainkit.loss.EasyContrastiveLoss,
                  "contrastive": rainkit.loss.ContrastiveLoss}
# --resume takes every stored setting but these as its defaults, and refuses changes to FIXED.
NOT_RESUMED = ("mode", "demo", "resume", "overwrite", "checkpoint", "out_dir", "init_from",
               "model", "model_kwargs", "model_module")
FIXED = ("epochs", "batch_size", "patch_size", "repeat", "lr", "min_lr_ratio", "seed",
         "val_split", "max_val_size", "loss", *(f"lambda_{t}" for t in TERMS),
         *(f"use_{t}_loss" for t in FEATURE_LOSSES))
RECIPE_LOSS_FLAGS = (*(f"--lambda_{t}" for t in TERMS),
                     *(f"--use_{t}_loss" for t in FEATURE_LOSSES))  # refused by --loss paper
# --loss paper: the networks whose family (rainkit.nn.FAMILIES) has the paper's training loss
PAPER_LOSS_MODELS = sorted(m for f in rainkit.nn.FAMILIES.values() if f.training_loss
                           for m in f.models)
OUTPUTS = ("last.pt", "best.pt", "log.csv")  # what a new run refuses to replace
SSIM_WINDOW = rainkit.training.Validator.window  # the smallest image SSIM scores
VGG_SIZE = rainkit.loss.min_input_size(("conv5_4", "relu5_1"))  # their deepest default taps


@contextlib.contextmanager
def stop_on_error(prefix: str = "", hint: str = "", also: tuple[type[Exception], ...] = ()
                  ) -> Iterator[None]:
    """Turn a file or value error (and those in ``also``) into a one-line message and exit 1."""
    try:
        yield
    except (OSError, ValueError, *also) as err:
        raise SystemExit(f"error: {prefix}{err}{hint}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a, default = p.add_argument, "(default: %(default)s)"
    a("--mode", choices=("train", "test"), default="train", help=default)
    a("--demo", action="store_true", help="short CPU training on synthetic rain; sets "
      + ", ".join(f"--{k} {v}" for k, v in DEMO.items()) + " unless given")
    a("--data_dir", type=Path, help="training pairs (rainy/+clean/, input/+target/, rain/+norain/"
      ", data/+gt/ or rain-N/norain-N files); none: synthetic rain on scikit-image photos")
    a("--val_dir", type=Path, help="validation pairs (default: <data_dir>/../val if it exists, "
      "else --val_split of --data_dir)")
    a("--val_split", type=float, default=0.1, help=f"held-out fraction of --data_dir {default}")
    a("--model", help=f"a name in rainkit.nn.MODELS ({', '.join(sorted(rainkit.nn.MODELS))}) or "
      f"registered by --model_module (default: {RECIPE['model']}; the checkpoint's with "
      "--resume, --init_from or --mode test)")
    a("--model_kwargs", type=json.loads, help="JSON keyword arguments of the network (default: "
      f"{json.dumps(RECIPE['model_kwargs'])} for {RECIPE['model']}, none for the others)")
    a("--model_module", type=Path, action="append", default=[], metavar="FILE", help="a Python "
      "file to import first that calls rainkit.nn.register_model (examples/custom_model.py)")
    a("--init_from", metavar="NAME|PATH", help="start from these weights with a fresh optimizer "
      "and schedule: a rainkit checkpoint file or a name in rainkit.nn.PRETRAINED")
    a("--checkpoint", type=Path, help="the checkpoint to test, or to resume (default: "
      "<out_dir>/last.pt)")
    a("--resume", action="store_true", help="continue the run in --out_dir (rules above)")
    a("--overwrite", action="store_true", help="replace the run in --out_dir (deletes its "
      "checkpoints, log.csv and samples)")
    a("--out_dir", type=Path, default=Path("runs/train"), help=default)
    for name, kind, text in (("epochs", int, "epochs"), ("batch_size", int, "patches a step"),
                             ("patch_size", int, "side of the random training crops"),
                             ("repeat", int, "random patches per training image per epoch"),
                             ("lr", float, "Adam's learning rate"),
                             ("min_lr_ratio", float, "the cosine schedule ends at lr x this")):
        a(f"--{name}", type=kind, default=RECIPE[name], help=f"{text} {default}")
    a("--loss", choices=("recipe", "paper"), default="recipe", help="recipe: the weighted sum of "
      "the --lambda_* and --use_*_loss terms on the final image; paper: the loss of the "
      "network's paper over all its outputs (rainkit.nn.Family.training_loss), for "
      f"{', '.join(PAPER_LOSS_MODELS)} {default}")
    for term in TERMS:
        a(f"--lambda_{term}", type=float, default=RECIPE[f"lambda_{term}"],
          help=f"weight of the {term} loss term {default}")
    for term in FEATURE_LOSSES:
        a(f"--use_{term}_loss", action="store_true", help=f"add the VGG19 {term} loss term")
    a("--vgg_weights", default="imagenet", help="VGG19 weights of the feature losses: imagenet "
      f"(torch hub cache), a path, or none (random, for tests) {default}")
    a("--lpips_weights", default="imagenet", help="AlexNet weights of LPIPS: imagenet (torch hub "
      f"cache), a path, or none (no LPIPS) {default}")
    a("--max_val_size", type=int, help="centre-crop validation images to at most this side")
    a("--num_samples", type=int, default=2, help=f"validation images in sample grids {default}")
    a("--cache", choices=("auto", "on", "off"), default="auto", help="keep decoded images in "
      "memory; auto: each dataset whose decoded images take at most "
      f"{rainkit.data.PairedRainDataset.auto_cache_bytes / 2**30:g} GiB {default}")
    a("--workers", type=int, default=0, help=f"DataLoader workers {default}")
    a("--seed", type=int, default=0, help=default)
    a("--device", default="auto", help=f"auto (cuda, mps, cpu), cpu, cuda, ... {default}")
    a("--threads", type=int, help="torch CPU threads (default: torch's)")
    a("--amp", action="store_true", help="mixed precision: float16 + GradScaler on CUDA, "
      "bfloat16 on CPU")
    a("--channels_last", action="store_true", help="NHWC layout (faster on CPU, see benchmarks/)")
    a("--no_progress", action="store_true", help="no progress bars")
    return p


def check_args(args: argparse.Namespace, parser: argparse.ArgumentParser,
               argv: Sequence[str]) -> None:
    """Reject, before anything is read or built, every setting that cannot work."""
    recipe = args.loss == "recipe"
    features = [t for t in FEATURE_LOSSES if recipe and getattr(args, f"use_{t}_loss")]
    checks = [(k, getattr(args, k) >= 1, ">= 1") for k in ("epochs", "batch_size", "patch_size",
                                                            "repeat")]
    checks += [(k, getattr(args, k) >= 0, ">= 0") for k in ("num_samples", "workers",
                                                            *(f"lambda_{t}" for t in TERMS))]
    checks += [("lr", math.isfinite(args.lr) and args.lr > 0, "a finite number > 0"),
               ("min_lr_ratio", 0 <= args.min_lr_ratio <= 1, "in [0, 1]"),
               ("val_split", 0 < args.val_split < 1, "in (0, 1)"),
               ("max_val_size", args.max_val_size is None or args.max_val_size >= SSIM_WINDOW,
                f">= {SSIM_WINDOW} (the SSIM window of the validation scores)"),
               ("patch_size", args.mode == "test" or not (recipe and args.lambda_ssim > 0)
                or args.patch_size >= SSIM_WINDOW, f">= {SSIM_WINDOW} (the SSIM loss window) "
                "while --lambda_ssim > 0 (pass --lambda_ssim 0 to train on smaller patches)"),
               ("patch_size", not features or args.patch_size >= VGG_SIZE, f">= {VGG_SIZE} for "
                "the VGG19 feature losses (their deepest layers, conv5_4 and relu5_1, come after "
                "4 poolings)")]
    for flag, ok, expected in checks:
        if not ok:  # "not ok" also catches nan, for which every comparison is false
            parser.error(f"--{flag} must be {expected}, got {getattr(args, flag)}")
    if args.model is not None and args.model not in rainkit.nn.MODELS:
        parser.error(f"--model must be one of {', '.join(sorted(rainkit.nn.MODELS))}, got "
                     f"{args.model!r} (your own network: --model_module FILE)")
    if args.mode == "test" and args.checkpoint is None:
        parser.error("--mode test needs --checkpoint")
    if not recipe and args.mode == "train":
        given = sorted({flag.split("=")[0] for flag in argv} & set(RECIPE_LOSS_FLAGS))
        if given:
            parser.error(f"--loss paper trains with the paper's loss alone: drop {', '.join(given)}"
                         " (they weigh the terms of --loss recipe)")
        model = args.model or (None if args.resume or args.init_from else RECIPE["model"])
        if model is not None:  # else the checkpoint's network, checked once it is read
            try:
                paper_loss(model)
            except ValueError as err:
                parser.error(str(err))
    if args.resume and (args.overwrite or args.init_from):
        parser.error("--resume continues a run: it excludes --overwrite and --init_from")
    for flag in ("vgg_weights", "lpips_weights"):
        if str(getattr(args, flag)).lower() == "none":
            setattr(args, flag, None)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every flag's value as JSON-like values, stored in every checkpoint."""
    return json.loads(json.dumps(vars(args), default=str))


def resume_args(parser: argparse.ArgumentParser, argv: Sequence[str], path: Path
                ) -> tuple[argparse.Namespace, dict[str, Any]]:
    """The checkpoint to resume, and the flags parsed again with its settings as defaults;
    flags that would change the run are refused."""
    with stop_on_error():
        resumed = rainkit.checkpoint.load_checkpoint(path)
    if not {"optimizer", "scheduler", "epoch"} <= resumed["training"].keys():
        raise SystemExit(f"error: {path} holds no training state (optimizer, schedule, epoch), "
                         "only weights, like best.pt or a published checkpoint; --resume needs "
                         f"a run's last.pt. To fine-tune from these weights use --init_from "
                         f"{path}")
    stored = resumed["metadata"].get("settings") or resumed["metadata"].get("args", {})
    stored = {"loss": "recipe", **stored}  # runs from before --loss trained on the recipe
    parser.set_defaults(**{k: v for k, v in stored.items() if k not in NOT_RESUMED})
    args = parser.parse_args(argv)
    try:
        rainkit.training.merge_settings(stored, settings(args), FIXED, label="--{}")
    except ValueError as err:
        parser.error(f"--resume continues the run in {path} with its stored settings; {err}. "
                     f"Drop those flags to resume, or start a new run from its weights with "
                     f"--init_from {path}")
    return args, resumed


# --------------------------------------------------------------------------- the parts
def make_model(args: argparse.Namespace, checkpoint: dict[str, Any] | None, where: object
               ) -> tuple[nn.Module, str, dict[str, Any]]:
    """The network, its name and kwargs, decided here only: those of the checkpoint resumed or
    tested, of --init_from, or of --model and --model_kwargs (the recipe's by default)."""
    with stop_on_error("--init_from " if checkpoint is None and args.init_from else "",
                       also=(TypeError,)):
        if checkpoint is not None:
            model = rainkit.checkpoint.build_from_checkpoint(checkpoint, source=str(where))
            name, kwargs = checkpoint["model_name"], dict(checkpoint["model_kwargs"])
        elif args.init_from:
            where = args.init_from
            model, name, kwargs = rainkit.checkpoint.load_weights_source(args.init_from)
        else:
            name = args.model or RECIPE["model"]
            kwargs = args.model_kwargs if args.model_kwargs is not None else \
                RECIPE["model_kwargs"] if name == RECIPE["model"] else {}
            return rainkit.nn.build_model(name, **kwargs), name, dict(kwargs)
    if args.model not in (None, name) or args.model_kwargs not in (None, kwargs):
        raise SystemExit(f"error: {where} holds a {name!r} network (kwargs {kwargs}), not "
                         f"{args.model or name!r} (kwargs {args.model_kwargs}): drop --model "
                         "and --model_kwargs, or make them match")
    return model, name, kwargs


def build_datasets(args: argparse.Namespace) -> tuple[Any, Sequence[Any], Any, str]:
    """(training set, validation pairs, the dataset drawing the patches, description)."""
    if args.data_dir is None and (args.mode == "train" or args.val_dir is None):
        train, val = rainkit.data.demo_datasets(patch_size=args.patch_size,
                                                samples_per_image=args.repeat, seed=args.seed)
        return train, val, train, (f"synthetic rain on scikit-image photos: train "
                                   f"{rainkit.data.DEMO_TRAIN_PHOTOS}, validation "
                                   f"{rainkit.data.DEMO_VAL_PHOTOS}")
    with stop_on_error():
        if args.mode == "test":
            folder = args.val_dir or args.data_dir
            return [], rainkit.data.PairedRainDataset(folder), [], str(folder)
        return rainkit.data.train_val_datasets(
            args.data_dir, args.val_dir, val_split=args.val_split, patch_size=args.patch_size,
            samples_per_image=args.repeat, seed=args.seed,
            cache={"on": True, "off": False, "auto": "auto"}[args.cache])


def build_criterion(args: argparse.Namespace) -> rainkit.loss.CombinedLoss:
    """The weighted loss terms, the feature losses on one VGG19 (one read of its weights)."""
    terms: dict[str, tuple[nn.Module, float]] = {}
    if args.lambda_charbonnier > 0:
        terms["charbonnier"] = (rainkit.loss.CharbonnierLoss(), args.lambda_charbonnier)
    if args.lambda_ssim > 0:
        terms["ssim"] = (rainkit.loss.SSIMLoss(), args.lambda_ssim)
    features = [t for t in FEATURE_LOSSES if getattr(args, f"use_{t}_loss")]
    if features:
        with stop_on_error("the VGG19 feature losses need their weights: ", "\nPut the file "
                           "there, pass --vgg_weights /path/to/vgg19.pth, or drop the --use_*_loss "
                           "flags."):
            vgg = rainkit.loss.VGGFeatures(vgg_weights=args.vgg_weights, normalize=False)
        for term in features:
            terms[term] = (FEATURE_LOSSES[term](vgg=vgg), getattr(args, f"lambda_{term}"))
    if not terms:
        raise SystemExit("error: every loss weight is zero; nothing to train")
    return rainkit.loss.CombinedLoss(terms)


# A paper's loss, loss(outputs, clean), over the list of images of network.stage_outputs(rainy).
OutputsLoss = Callable[[Sequence[torch.Tensor], torch.Tensor], torch.Tensor]


def paper_loss(model: str) -> OutputsLoss:
    """The training loss of the paper of network ``model``: its family's training_loss."""
    family = rainkit.nn.family_of(model)
    if family is None or family.training_loss is None:
        why = (f"the {family.title} paper trains on the final image only" if family else
               "it belongs to no family of rainkit.nn.FAMILIES")
        raise ValueError(f"--loss paper needs a network whose paper's loss rainkit has "
                         f"({', '.join(PAPER_LOSS_MODELS)}), got {model!r}: {why}; train it "
                         "with --loss recipe")
    return family.training_loss


class PaperLoss(nn.Module):
    """A paper's loss over a network's outputs, called like CombinedLoss: ``(total, terms)``,
    with no separate terms (the total is logged as ``loss``)."""

    losses: tuple[str, ...] = ()

    def __init__(self, loss: OutputsLoss) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, outputs: Sequence[torch.Tensor], clean: torch.Tensor,
                rainy: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.loss(outputs, clean), {}  # rainy: unused (CombinedLoss's contrastive terms)


class StageOutputs(nn.Module):
    """``network.stage_outputs(x)`` (the images the paper's loss supervises) as a forward:
    DistributedDataParallel syncs the gradients of calls to its module's forward only."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.network.stage_outputs(x)


def build_validator(pairs: Sequence[Any], args: argparse.Namespace, device: torch.device,
                    rank: int, world: int) -> tuple[rainkit.training.Validator, dict[str, float]]:
    """The validation scores (LPIPS if its weights load) and those of the rainy inputs, which
    reads every pair: a broken or too small one stops the run before the first step."""
    lpips = None
    try:
        if args.lpips_weights is not None:
            lpips = rainkit.metrics.LPIPS(weights=args.lpips_weights).to(device).eval()
    except FileNotFoundError as err:
        if rank == 0:
            print(f"notice: LPIPS skipped, AlexNet weights not found: "
                  f"{str(err).splitlines()[0] if str(err) else 'file missing'}", flush=True)
    validator = rainkit.training.Validator(pairs, device, max_size=args.max_val_size,
                                           lpips=lpips, rank=rank, world=world)
    with stop_on_error("validation data: ", also=(RuntimeError,)):
        return validator, validator.score(lambda rainy: rainy)[0]


# --------------------------------------------------------------------------- training
def train_one_epoch(net: nn.Module, loader: DataLoader, criterion: nn.Module,
                    optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler,
                    args: argparse.Namespace, device: torch.device, epoch: int, rank: int
                    ) -> dict[str, float]:
    """One pass over the training patches; returns every loss term's mean over all processes.
    Stops the run, before the update, at the first non-finite loss."""
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    contrastive = args.use_easy_contrastive_loss or args.use_contrastive_loss
    net.train()
    sums: dict[str, float] = {}
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False,
               disable=rank != 0 or args.no_progress, dynamic_ncols=True)
    for step, (rainy, clean, _) in enumerate(bar):
        rainy = rainy.to(device, non_blocking=True).contiguous(memory_format=layout)
        clean = clean.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
            output = net(rainy)  # the derained image; with --loss paper, the list of outputs
        output = [o.float() for o in output] if isinstance(output, list) else output.float()
        total, terms = criterion(output, clean, rainy if contrastive else None)
        values = {"loss": total.item(), **{k: v.item() for k, v in terms.items()}}
        bad = rainkit.training.all_reduce_sum({"bad": float(not math.isfinite(values["loss"]))},
                                              device)["bad"]
        if bad:
            kept = f"{args.out_dir}/last.pt keeps epoch {epoch}" if epoch else "no epoch ended"
            raise SystemExit(
                f"error: the loss became {values['loss']} at epoch {epoch + 1}, step {step + 1}: "
                f"training diverged and stopped before that update ({kept}). Lower --lr (was "
                f"{args.lr}) and start again with --overwrite, or from last.pt with --init_from")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value
        bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
    bar.close()
    sums = rainkit.training.all_reduce_sum({**sums, "_n": float(len(loader))}, device)
    steps = max(sums.pop("_n"), 1.0)
    return {k: v / steps for k, v in sums.items()}


def run_train(args: argparse.Namespace, resumed: dict[str, Any] | None, device: torch.device,
              rank: int, world: int) -> None:
    out = args.out_dir
    if resumed is None:
        with stop_on_error(hint=": pass --resume to continue it, --overwrite to replace it, or "
                           "another --out_dir"):
            rainkit.training.claim_run_dir(out, OUTPUTS, overwrite=args.overwrite,
                                           clear=["samples/epoch*.png"], remove=rank == 0)
    torch.manual_seed(args.seed)  # the network's initial weights
    train_set, val_set, patches, where = build_datasets(args)
    model, name, kwargs = make_model(args, resumed, args.checkpoint or out / "last.pt")
    model = model.to(device, memory_format=torch.channels_last if args.channels_last
                     else torch.contiguous_format)
    if args.loss == "paper":  # the paper's loss over the outputs that StageOutputs returns
        with stop_on_error():
            loss = paper_loss(name)
        criterion, trained, loss_names = PaperLoss(loss), StageOutputs(model), loss.__name__
    else:
        criterion, trained = build_criterion(args).to(device), model
        loss_names = ", ".join(criterion.losses)
    net = trained if world == 1 else nn.parallel.DistributedDataParallel(
        trained, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=bool(getattr(model, "unused_parameters", ())))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler,
                        num_workers=args.workers, pin_memory=device.type == "cuda",
                        drop_last=len(train_set) >= args.batch_size * world)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * max(1, len(loader)), eta_min=args.lr * args.min_lr_ratio)
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp and device.type == "cuda")
    validator, inputs = build_validator(val_set, args, device, rank, world)
    start_epoch, best_psnr = 0, -math.inf
    if resumed is not None:
        with stop_on_error(hint=": the training set or the number of processes changed; resume "
                           "with the same data and processes"):
            state = rainkit.training.restore_training_state(resumed["training"], optimizer,
                                                            scheduler, scaler)
        start_epoch, best_psnr = state["epoch"], state["best_psnr"]
        columns = ["epoch", "lr", "seconds", *(f"train_{k}" for k in ("loss", *criterion.losses)),
                   *(f"val_{k}" for k in validator.names)]
        with stop_on_error(hint=": give the run's own --lpips_weights (LPIPS found or lost)"):
            if rank == 0:
                rainkit.training.truncate_log(out / "log.csv", start_epoch, columns)
    if rank == 0:
        print(f"data: {where}\nmodel: {name} {kwargs} ("
              f"{sum(p.numel() for p in model.parameters()):,} parameters) on {device}, {world} "
              f"process(es); losses: {loss_names}; {args.epochs} epochs x "
              f"{len(loader)} steps\nvalidation input: {rainkit.training.format_scores(inputs)}",
              flush=True)
        if start_epoch:
            print(f"resumed from epoch {start_epoch} (best PSNR {best_psnr:.2f} dB)", flush=True)
    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)
        patches.set_epoch(epoch)  # fresh random patches every epoch, seeded
        start = time.perf_counter()
        losses = train_one_epoch(net, loader, criterion, optimizer, scheduler, scaler, args,
                                 device, epoch, rank)
        seconds = time.perf_counter() - start
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise SystemExit(f"error: the weights became non-finite in epoch {epoch + 1}: "
                             f"training diverged; {out} keeps the last finite checkpoints")
        scores, grids = validator.score(model.eval(), keep=args.num_samples)
        improved, best_psnr = scores["psnr"] > best_psnr, max(best_psnr, scores["psnr"])
        if rank == 0:  # samples, log row, best.pt, last.pt: a kill before last.pt redoes the epoch
            with stop_on_error():
                rainkit.training.record_epoch(
                    out, epoch + 1, model, model_name=name, model_kwargs=kwargs, samples=grids,
                    best=improved, log_row={
                        "lr": optimizer.param_groups[0]["lr"], "seconds": round(seconds, 2),
                        **{f"train_{k}": round(v, 6) for k, v in losses.items()},
                        **{f"val_{k}": round(v, 6) for k, v in scores.items()}},
                    training=rainkit.training.training_state(
                        optimizer, scheduler, scaler, epoch=epoch + 1, best_psnr=best_psnr),
                    metadata={"scores": scores, "input_scores": inputs, "settings": settings(args),
                              "rainkit_version": rainkit.__version__})
            print(f"epoch {epoch + 1}/{args.epochs} [{seconds:.1f}s] "
                  + " ".join(f"{k} {v:.4f}" for k, v in losses.items())
                  + f" | val {rainkit.training.format_scores(scores)} (input "
                  f"{inputs['psnr_y']:.2f} dB Y)" + " *best*" * improved, flush=True)
        if world > 1:
            dist.barrier()
    if rank == 0:
        print(f"done: best PSNR {best_psnr:.2f} dB; checkpoints, samples/ and log.csv in {out}",
              flush=True)
        if args.demo or args.data_dir is None:
            demo_report(model.eval(), validator, out)


def demo_report(model: nn.Module, validator: rainkit.training.Validator, out: Path) -> None:
    """Print each held-out photo's scores at full size and save a before/after PNG."""
    print("held-out photos (full size):")
    rows = []
    for pair in validator.pairs:
        one = rainkit.training.Validator([pair], validator.device)
        (before, _), (after, [(name, row)]) = one.score(lambda x: x), one.score(model, keep=1)
        print(f"  {name:10s} rainy  : PSNR {before['psnr']:.2f} dB, SSIM {before['ssim']:.4f}\n"
              f"  {name:10s} derained: PSNR {after['psnr']:.2f} dB, SSIM {after['ssim']:.4f}")
        rows.append(row)
    width = max(row.shape[-1] for row in rows)
    grid = torch.cat([nn.functional.pad(row, (0, width - row.shape[-1])) for row in rows], -2)
    rainkit.data.save_image(grid, out / "before_after.png")
    print(f"before/after image (rainy | derained | clean): {(out / 'before_after.png').resolve()}")


def run_test(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> None:
    with stop_on_error():
        checkpoint = rainkit.checkpoint.load_checkpoint(args.checkpoint)
    model = make_model(args, checkpoint, args.checkpoint)[0].to(device).eval()
    _, val, _, where = build_datasets(args)
    validator, inputs = build_validator(val, args, device, rank, world)
    scores, _ = validator.score(model, save_dir=args.out_dir / "test")
    if rank == 0:
        epoch = checkpoint["metadata"].get("epoch", checkpoint["training"].get("epoch", "?"))
        print(f"test on {where} ({len(val)} pairs) with {args.checkpoint} "
              f"({checkpoint['model_name']}, epoch {epoch})\n  input : "
              f"{rainkit.training.format_scores(inputs)}\n  output: "
              f"{rainkit.training.format_scores(scores)}\n  derained images written to "
              f"{args.out_dir / 'test'}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if "--demo" in argv:
        parser.set_defaults(**DEMO)
    args = parser.parse_args(argv)
    for path in args.model_module:  # a user's file that calls rainkit.nn.register_model
        if not path.is_file():
            parser.error(f"--model_module {path}: no such file")
        runpy.run_path(str(path))
    check_args(args, parser, argv)
    resumed = None
    if args.resume and args.mode == "train":
        args, resumed = resume_args(parser, argv, args.checkpoint or args.out_dir / "last.pt")
        check_args(args, parser, argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with stop_on_error("--device: "):
        device = rainkit.training.pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")))
    with rainkit.training.distributed_session(device) as (rank, world):
        if args.mode == "test":
            run_test(args, device, rank, world)
        else:
            run_train(args, resumed, device, rank, world)


if __name__ == "__main__":
    main()

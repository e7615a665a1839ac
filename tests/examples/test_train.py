"""examples/train.py on tiny settings: outputs, test mode, resume, the rules that keep a user's
work (no silent overwrite, crash-safe write order, full disk, divergence, changed flags on
resume), start-up checks, --init_from, --model_module and two CPU processes."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import rainkit._files
import rainkit.checkpoint
import rainkit.data
import rainkit.loss
import rainkit.nn
import rainkit.training
from _full_disk import FullDisk
from rainkit.checkpoint import load_checkpoint
from rainkit.data import read_image

from ._helpers import EXAMPLES, TINY, load_example, make_pairs

train = load_example("train")

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rain")
    make_pairs(root / "train", 4)
    make_pairs(root / "val", 2, seed=1)
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _run(data: Path, out: Path, *flags: str) -> None:
    train.main(["--data_dir", str(data / "train"), "--out_dir", str(out), *TINY, *flags])


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run train.main, expect it to stop, return what it said (SystemExit text or stderr)."""
    with pytest.raises(SystemExit) as stop:
        train.main(argv)
    assert stop.value.code not in (0, None)
    return f"{stop.value.code}\n{capsys.readouterr().err}"


# --------------------------------------------------------------------------- outputs
def test_train_writes_checkpoints_log_and_samples(data: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "2")
    printed = capsys.readouterr().out
    assert f"validation {data / 'val'}" in printed  # <data_dir>/../val found by default
    assert "image cache on" in printed  # --cache auto: 6 small pairs fit
    assert printed.count("validation input: PSNR") == 1  # the inputs are scored once
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for key in ("train_loss", "train_charbonnier", "val_psnr", "val_ssim", "val_psnr_y",
                "val_ssim_y", "lr"):
        assert key in rows[0]
    # cosine schedule from --lr down to lr * min_lr_ratio after the last step
    assert float(rows[-1]["lr"]) == pytest.approx(1e-3 * 0.01)
    last = load_checkpoint(out / "last.pt")
    assert last["model_name"] == "baseline" and last["training"]["epoch"] == 2
    assert last["model_kwargs"] == {"channels": 4, "num_blocks": 1}
    assert last["metadata"]["settings"]["epochs"] == 2
    best = load_checkpoint(out / "best.pt")
    assert best["training"] == {}  # weights and scores only: --resume uses last.pt
    assert best["metadata"]["scores"]["psnr"] == pytest.approx(
        max(float(r["val_psnr"]) for r in rows), abs=1e-4)
    assert rainkit.checkpoint.load_model(out / "best.pt").training is False
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["epoch001_p0.png", "epoch001_p1.png", "epoch002_p0.png", "epoch002_p1.png"]
    assert read_image(out / "samples" / "epoch001_p0.png").shape == (3, 24, 60)  # 3 panels


def test_validation_split_without_val_folder(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    make_pairs(tmp_path / "only", 5)
    train.main(["--data_dir", str(tmp_path / "only"), "--epochs", "1", "--val_split", "0.4",
                "--out_dir", str(tmp_path / "run"), *TINY])
    assert "3 training, 2 validation pairs (split)" in capsys.readouterr().out


def test_test_mode_and_wrong_architecture(data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "1")
    capsys.readouterr()
    test = ["--mode", "test", "--checkpoint", str(out / "best.pt"), "--val_dir",
            str(data / "val"), "--out_dir", str(out), "--lpips_weights", "none"]
    train.main(test)
    printed = capsys.readouterr().out
    assert "input :" in printed and "output:" in printed and "Y-PSNR" in printed
    assert "(baseline, epoch 1)" in printed
    assert sorted(p.name for p in (out / "test").iterdir()) == ["p0.png", "p1.png"]
    said = _fails(capsys, [*test, "--model", "unet"])
    assert "holds a 'baseline' network" in said and "not 'unet'" in said


def test_help_prints_each_default_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    entries = re.split(r"\n  (?=-)", text.split("options:")[1])
    assert len(entries) > 40 and all(" ".join(e.split()).count("default") <= 1 for e in entries)
    assert " ".join(text.split()).count("(default: 170)") == 1 and "None" not in text
    assert "rules that keep your work" in text and "--resume continues" in text
    with pytest.raises(SystemExit):
        train.main(["--demo", "--help"])
    demo = capsys.readouterr().out
    assert "epochs (default: 150)" in " ".join(demo.split())  # --demo's settings, shown


# --------------------------------------------------------------------------- losses, options
def test_missing_vgg_weights_say_where(data: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(SystemExit, match="vgg19-dcbb9e9d.pth"):
        _run(data, tmp_path / "run", "--epochs", "1", "--use_perceptual_loss")


def test_feature_losses_with_random_vgg(data: Path, tmp_path: Path) -> None:
    _run(data, tmp_path / "run", "--epochs", "1", "--use_perceptual_loss",
         "--use_easy_contrastive_loss", "--use_contrastive_loss", "--vgg_weights", "none")
    rows = _rows(tmp_path / "run" / "log.csv")
    for term in ("charbonnier", "perceptual", "easy_contrastive", "contrastive"):
        assert f"train_{term}" in rows[0]


def test_recipe_kwargs_only_for_the_recipe_network(data: Path, tmp_path: Path) -> None:
    flags = TINY[4:]  # TINY without --model and --model_kwargs
    train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--model", "baseline",
                "--out_dir", str(tmp_path / "run"), *flags])
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model_name"] == "baseline" and state["model_kwargs"] == {}


def test_amp_on_cpu_uses_bfloat16_autocast(data: Path, tmp_path: Path) -> None:
    _run(data, tmp_path / "run", "--epochs", "1", "--amp")
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())
    assert state["metadata"]["settings"]["amp"] is True


def test_channels_last_trains_the_same_model(data: Path, tmp_path: Path) -> None:
    runs = {}
    for name, flags in (("default", []), ("nhwc", ["--channels_last"])):
        _run(data, tmp_path / name, "--epochs", "1", *flags)
        state = load_checkpoint(tmp_path / name / "last.pt")
        assert state["metadata"]["settings"]["channels_last"] is bool(flags)
        runs[name] = state["model"]
    for key, value in runs["default"].items():
        # Same seed and data: only the order of floating-point sums differs between layouts.
        torch.testing.assert_close(runs["nhwc"][key].contiguous(), value, atol=1e-4, rtol=1e-3)


def test_missing_lpips_weights_one_notice(data: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    args = [a for a in TINY if a not in ("--lpips_weights", "none")]
    train.main(["--data_dir", str(data / "train"), "--epochs", "2", "--out_dir",
                str(tmp_path / "run"), *args])
    notices = [line for line in capsys.readouterr().out.splitlines() if line.startswith("notice")]
    assert len(notices) == 1 and "LPIPS skipped" in notices[0]
    assert "alexnet-owt-7be5be79.pth" in notices[0]
    assert "val_lpips" not in _rows(tmp_path / "run" / "log.csv")[0]


# --------------------------------------------------------------------------- --loss paper
MPRNET = ["--model", "mprnet", "--model_kwargs",
          json.dumps(rainkit.nn.FAMILIES["mprnet"].test_kwargs["mprnet"])]


def test_paper_loss_logs_the_family_loss_of_the_stage_outputs(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One step over the 4 patches at lr 1e-30: the weights in last.pt are those that made the
    # step's outputs, so the logged loss can be computed again from the stored network.
    out = tmp_path / "run"
    _run(data, out, *MPRNET, "--loss", "paper", "--epochs", "1", "--batch_size", "4",
         "--lr", "1e-30")
    assert "losses: mprnet_loss; 1 epochs x 1 steps" in capsys.readouterr().out
    [row] = _rows(out / "log.csv")
    assert [k for k in row if k.startswith("train_")] == ["train_loss"]  # one value: the total
    patches = rainkit.data.train_val_datasets(data / "train", data / "val", patch_size=16,
                                              samples_per_image=1, seed=0)
    patches.patches.set_epoch(0)
    rainy, clean = (torch.stack(t) for t in list(zip(*patches.train))[:2])
    net = rainkit.checkpoint.load_model(out / "last.pt")
    with torch.no_grad():
        outputs = net.stage_outputs(rainy)
        paper = rainkit.nn.FAMILIES["mprnet"].training_loss(outputs, clean)
        recipe = (rainkit.loss.charbonnier_loss(outputs[-1], clean)
                  + 0.2 * rainkit.loss.SSIMLoss()(outputs[-1], clean))
    assert len(outputs) == 3
    assert float(row["train_loss"]) == pytest.approx(float(paper), abs=2e-6)
    assert abs(float(paper) - float(recipe)) > 0.01  # the check tells the two losses apart
    state = load_checkpoint(out / "last.pt")
    assert state["metadata"]["settings"]["loss"] == "paper"
    said = _fails(capsys, ["--out_dir", str(out), "--resume", "--loss", "recipe"])
    assert "--loss recipe (stored: paper)" in said  # a fixed setting
    train.main(["--out_dir", str(out), "--resume"])  # nothing left to train, but accepted
    assert "resumed from epoch 1" in capsys.readouterr().out


def test_paper_loss_with_amp(data: Path, tmp_path: Path) -> None:
    _run(data, tmp_path / "run", *MPRNET, "--loss", "paper", "--epochs", "1", "--amp")
    assert math.isfinite(float(_rows(tmp_path / "run" / "log.csv")[0]["train_loss"]))


@pytest.mark.parametrize("case", ["family without one", "no family", "recipe flags",
                                  "init_from"])
def test_paper_loss_refused(case: str, data: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data_dir", str(data / "train"), "--out_dir", str(tmp_path / "run"), *TINY,
            "--epochs", "1", "--loss", "paper"]
    if case == "family without one":
        argv += ["--model", "restormer"]
        expected = ("got 'restormer': the Restormer (Zamir et al., CVPR 2022) paper trains on "
                    "the final image only")
    elif case == "no family":
        expected = "got 'baseline': it belongs to no family"
    elif case == "recipe flags":
        argv += [*MPRNET, "--lambda_ssim=0", "--use_perceptual_loss"]
        expected = "drop --lambda_ssim, --use_perceptual_loss"
    else:  # the network is read from the checkpoint: refused once it is known
        _run(data, tmp_path / "first", "--epochs", "1")
        argv = [*argv[:4], *TINY[4:], "--epochs", "1", "--loss", "paper", "--init_from",
                str(tmp_path / "first" / "last.pt")]
        expected = "got 'baseline': it belongs to no family"
    said = _fails(capsys, argv)
    assert expected in said and "--loss recipe" in said
    assert not (tmp_path / "run" / "log.csv").exists()


# --------------------------------------------------------------------------- nothing is lost
def test_existing_run_refused_without_resume_or_overwrite(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "2")
    before = {name: (out / name).read_bytes() for name in ("last.pt", "best.pt", "log.csv")}
    said = _fails(capsys, ["--data_dir", str(data / "train"), "--out_dir", str(out), *TINY,
                           "--epochs", "2"])
    assert "holds last.pt, best.pt, log.csv of an earlier run" in said and "--overwrite" in said
    assert before == {name: (out / name).read_bytes() for name in before}  # untouched
    _run(data, out, "--epochs", "1", "--overwrite")
    assert [r["epoch"] for r in _rows(out / "log.csv")] == ["1"]  # not 1, 2, 1
    assert not list((out / "samples").glob("epoch002_*"))  # the old run's samples are gone
    assert load_checkpoint(out / "last.pt")["training"]["epoch"] == 1


def test_kill_between_log_and_checkpoint_resumes_every_epoch_once(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = ["--epochs", "3", "--repeat", "3"]
    _run(data, tmp_path / "straight", *flags)
    save = rainkit.training.run_dir.write_checkpoint

    def killed_at_epoch_2(path: Path, prepared: dict[str, Any]) -> Any:
        if path.name == "last.pt" and prepared["metadata"]["epoch"] == 2:
            raise KeyboardInterrupt  # the process dies after the log row, before last.pt
        return save(path, prepared)

    monkeypatch.setattr(rainkit.training.run_dir, "write_checkpoint", killed_at_epoch_2)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _run(data, out, *flags)
    assert [r["epoch"] for r in _rows(out / "log.csv")] == ["1", "2"]
    assert load_checkpoint(out / "last.pt")["training"]["epoch"] == 1
    monkeypatch.setattr(rainkit.training.run_dir, "write_checkpoint", save)
    train.main(["--out_dir", str(out), "--resume"])  # every setting comes from last.pt
    rows, straight = _rows(out / "log.csv"), _rows(tmp_path / "straight" / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    for row, reference in zip(rows, straight):  # the same run, exactly
        assert {k: v for k, v in row.items() if k != "seconds"} == \
            {k: v for k, v in reference.items() if k != "seconds"}
    assert (out / "samples" / "epoch002_p0.png").exists()
    final = load_checkpoint(out / "last.pt")["model"]
    for key, value in load_checkpoint(tmp_path / "straight" / "last.pt")["model"].items():
        assert torch.equal(final[key], value), key


def test_full_disk_says_so_and_leaves_no_temporary_file(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    opened = []

    def open_then_fill_up(path: Path, mode: str = "r") -> object:
        opened.append(path)  # epoch 1 writes best.pt and last.pt; then the disk is full
        return open(path, mode) if len(opened) <= 2 else FullDisk(path, mode)

    monkeypatch.setattr(rainkit._files, "open", open_then_fill_up, raising=False)
    said = _fails(capsys, ["--data_dir", str(data / "train"), "--out_dir", str(out), *TINY,
                           "--epochs", "3"])
    assert "No space left on device" in said and "could not write" in said
    assert "unexpected pos" not in said
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["best.pt", "last.pt",
                                                                   "log.csv"]
    monkeypatch.undo()
    assert load_checkpoint(out / "last.pt")["training"]["epoch"] == 1  # the previous one, intact


def test_diverging_run_stops_and_keeps_the_finite_checkpoint(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    build = train.build_criterion

    def nan_from_step_3(args: Any) -> torch.nn.Module:
        criterion, calls = build(args), []

        def forward(output: torch.Tensor, *rest: Any) -> Any:
            calls.append(1)
            total, terms = type(criterion).forward(criterion, output, *rest)
            return (total * float("nan") if len(calls) >= 3 else total), terms

        criterion.forward = forward
        return criterion

    monkeypatch.setattr(train, "build_criterion", nan_from_step_3)
    out = tmp_path / "run"
    said = _fails(capsys, ["--data_dir", str(data / "train"), "--out_dir", str(out), *TINY,
                           "--epochs", "3"])  # 2 steps an epoch: step 3 opens epoch 2
    assert "the loss became nan at epoch 2, step 1" in said and "Lower --lr" in said
    assert "last.pt keeps epoch 1" in said
    last = load_checkpoint(out / "last.pt")
    assert last["training"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())
    assert [r["epoch"] for r in _rows(out / "log.csv")] == ["1"]


def test_huge_learning_rate_exits_nonzero(data: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train.py"), "--data_dir", str(data / "train"),
         "--out_dir", str(tmp_path / "run"), *TINY, "--epochs", "30", "--lr", "1e30"],
        env=ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "training diverged" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- resume
def test_resume_keeps_the_stored_settings_and_refuses_changes(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "2")
    resume = ["--out_dir", str(out), "--resume", *TINY]
    for flags, shown in ((["--epochs", "6"], "--epochs 6 (stored: 2)"),
                         (["--lr", "0.01"], "--lr 0.01 (stored: 0.001)"),
                         (["--lambda_ssim", "0"], "--lambda_ssim 0.0 (stored: 0.2)"),
                         (["--use_perceptual_loss"], "--use_perceptual_loss True (stored: False)")):
        said = _fails(capsys, [*resume, *flags])
        assert shown in said and f"--init_from {out / 'last.pt'}" in said
    # the data may have moved: --data_dir is taken anew, everything else from last.pt
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    train.main([*resume, "--data_dir", str(moved / "train")])
    assert f"train {moved / 'train'}" in capsys.readouterr().out


def test_resume_refuses_a_log_with_other_columns(data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "1")
    log = out / "log.csv"
    header, *rows = log.read_text().splitlines()
    log.write_text("\n".join([header + ",val_lpips", *(r + ",0.5" for r in rows)]) + "\n")
    before = log.read_bytes()
    said = _fails(capsys, ["--out_dir", str(out), "--resume"])
    assert "has the columns" in said and "val_lpips" in said and "--lpips_weights" in said
    assert log.read_bytes() == before


@pytest.mark.parametrize("damage", ["corrupted", "empty", "text", "weights only", "missing"])
def test_resume_from_a_bad_checkpoint_names_the_file(
        damage: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(data, out, "--epochs", "1")
    last = out / "last.pt"
    if damage == "corrupted":  # flip bytes inside a stored weight (torch still reads the file)
        raw = bytearray(last.read_bytes())
        weight = load_checkpoint(last)["model"]["head.0.weight"].numpy().tobytes()
        raw[raw.find(weight) + 5] ^= 0xFF
        last.write_bytes(bytes(raw))
    elif damage == "empty":
        last.write_bytes(b"")
    elif damage == "text":
        last.write_text("epoch 1\n")
    elif damage == "weights only":
        shutil.copy(out / "best.pt", last)
    else:
        last.unlink()
    said = _fails(capsys, ["--out_dir", str(out), "--resume", *TINY])
    assert str(last) in said
    expected = {"corrupted": "is corrupted", "empty": "is empty (0 bytes)",
                "text": "cannot be read", "weights only": "use --init_from",
                "missing": "not found"}[damage]
    assert expected in said


# --------------------------------------------------------------------------- start-up checks
def _tiny_images(folder: Path, size: tuple[int, int]) -> Path:
    for sub in ("rainy", "clean"):
        (folder / sub).mkdir(parents=True)
        Image.fromarray(np.zeros((*size, 3), np.uint8)).save(folder / sub / "a.png")
    return folder


@pytest.mark.parametrize("case", [
    "one pair, no val", "val smaller than SSIM", "zero-byte val file", "max_val_size 8",
    "max_val_size 0", "max_val_size -5", "val_split 1", "vgg patch 8", "min_lr_ratio -0.5",
    "negative lambda", "nan lambda", "lr inf", "unknown model"])
def test_impossible_settings_rejected_before_the_first_step(
        case: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data_dir", str(data / "train"), "--epochs", "1", *TINY]
    if case == "one pair, no val":
        make_pairs(tmp_path / "one", 1)
        argv[1], expected = str(tmp_path / "one"), "holds 1 pair"
    elif case == "val smaller than SSIM":
        argv += ["--val_dir", str(_tiny_images(tmp_path / "small", (8, 30)))]
        expected = "'a' is (8, 30) pixels, smaller than the SSIM window (11)"
    elif case == "zero-byte val file":
        shutil.copytree(data / "val", tmp_path / "val")
        (tmp_path / "val" / "clean" / "p1.png").write_bytes(b"")
        argv += ["--val_dir", str(tmp_path / "val")]
        expected = str(tmp_path / "val" / "clean" / "p1.png")
    elif case.startswith("max_val_size"):
        argv += ["--max_val_size", case.split()[1]]
        expected = f"--max_val_size must be >= 11 (the SSIM window of the validation scores), " \
                   f"got {case.split()[1]}"
    elif case == "val_split 1":
        argv += ["--val_split", "1.0"]
        expected = "--val_split must be in (0, 1), got 1.0"
    elif case == "vgg patch 8":
        argv += ["--patch_size", "8", "--lambda_ssim", "0", "--use_perceptual_loss",
                 "--vgg_weights", "none"]
        expected = "--patch_size must be >= 16 for the VGG19 feature losses"
    elif case == "min_lr_ratio -0.5":
        argv += ["--min_lr_ratio", "-0.5"]
        expected = "--min_lr_ratio must be in [0, 1], got -0.5"
    elif case == "negative lambda":
        argv += ["--lambda_charbonnier", "-1"]
        expected = "--lambda_charbonnier must be >= 0, got -1.0"
    elif case == "nan lambda":
        argv += ["--lambda_ssim", "nan"]
        expected = "--lambda_ssim must be >= 0, got nan"
    elif case == "lr inf":
        argv += ["--lr", "inf"]
        expected = "--lr must be a finite number > 0, got inf"
    else:
        argv += ["--model", "nonexistent"]
        expected = "--model must be one of baseline, brn, derainnet"
    out = tmp_path / "run"
    said = _fails(capsys, [*argv, "--out_dir", str(out)])
    assert expected in said
    assert not (out / "log.csv").exists() and not (out / "last.pt").exists()


def test_bad_device_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    said = _fails(capsys, [*TINY, "--device", "gpu"])
    assert "error: --device: flag must be 'auto' or a device" in said and "'gpu'" in said
    if not torch.cuda.is_available():
        said = _fails(capsys, [*TINY, "--device", "cuda"])
        assert "CUDA is not available on this machine" in said


def test_other_flag_errors(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--epochs must be >= 1, got 0" in _fails(capsys, [*TINY, "--epochs", "0"])
    assert "--mode test needs --checkpoint" in _fails(capsys, ["--mode", "test"])
    assert "--patch_size must be >= 11 (the SSIM loss window)" in _fails(
        capsys, [*TINY, "--patch_size", "8", "--lambda_ssim", "0.2"])
    assert "excludes --overwrite and --init_from" in _fails(capsys, ["--resume", "--overwrite"])


# --------------------------------------------------------------------------- other weights
def test_init_from_a_checkpoint_fine_tunes_its_weights(
        data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(data, tmp_path / "first", "--epochs", "1")
    source = tmp_path / "first" / "last.pt"
    flags = TINY[4:]  # no --model: it comes from the checkpoint
    train.main(["--data_dir", str(data / "train"), "--out_dir", str(tmp_path / "tuned"),
                "--init_from", str(source), "--epochs", "1", "--lr", "1e-12", *flags])
    tuned = load_checkpoint(tmp_path / "tuned" / "last.pt")
    assert tuned["model_name"] == "baseline"
    assert tuned["model_kwargs"] == {"channels": 4, "num_blocks": 1}
    assert tuned["training"]["scheduler"]["base_lrs"] == [1e-12]  # a fresh optimizer/schedule
    weights = {k: v for k, v in load_checkpoint(source)["model"].items()
               if "running_" not in k and "num_batches" not in k}  # BatchNorm's statistics move
    for key, value in weights.items():  # lr 1e-12: the same weights
        torch.testing.assert_close(tuned["model"][key], value, atol=1e-9, rtol=0)
    said = _fails(capsys, ["--data_dir", str(data / "train"), "--out_dir",
                           str(tmp_path / "other"), "--init_from", str(source), "--model",
                           "unet", *flags])
    assert "holds a 'baseline' network" in said and "not 'unet'" in said


def test_init_from_a_published_name(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    # a published entry "tiny-rain" whose file (a plain state dict) sits in the hub cache
    kwargs = {"channels": 4, "num_blocks": 1}
    published = rainkit.nn.build_model("baseline", **kwargs)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    blob = tmp_path / "blob.pth"
    torch.save(published.state_dict(), blob)
    entry = rainkit.nn.PretrainedWeights(
        name="tiny-rain", model="baseline", url="https://example.org/tiny.pth",
        sha256=hashlib.sha256(blob.read_bytes()).hexdigest(), training_set="none",
        num_params=sum(p.numel() for p in published.parameters()), model_kwargs=kwargs)
    monkeypatch.setitem(rainkit.nn.registry._PRETRAINED, "tiny-rain", entry)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / entry.file_name).write_bytes(blob.read_bytes())
    argv = ["--data_dir", str(data / "train"), "--epochs", "1", *TINY[4:]]
    train.main([*argv, "--out_dir", str(tmp_path / "run"), "--init_from", "tiny-rain"])
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model_name"] == "baseline" and state["model_kwargs"] == kwargs
    said = _fails(capsys, [*argv, "--out_dir", str(tmp_path / "b"), "--init_from", "nope"])
    assert "--init_from nope: no such file, and not a published checkpoint" in said
    said = _fails(capsys, [*argv, "--out_dir", str(tmp_path / "c"), "--init_from", "tiny-rain",
                           "--model", "unet"])
    assert "holds a 'baseline' network" in said


@pytest.mark.skipif(not hasattr(rainkit.nn, "load_pretrained"),
                    reason="rainkit.nn.load_pretrained arrives with the published checkpoints")
def test_published_entries_name_their_network() -> None:
    for name, entry in rainkit.nn.PRETRAINED.items():
        assert entry.model in rainkit.nn.MODELS, name
        assert isinstance(dict(entry.model_kwargs), dict), name


def test_model_module_trains_a_registered_network(data: Path, tmp_path: Path) -> None:
    command = [sys.executable, str(EXAMPLES / "train.py"), "--model_module",
               str(EXAMPLES / "custom_model.py"), "--model", "mynet", "--model_kwargs",
               '{"channels": 4}', "--data_dir", str(data / "train"), "--epochs", "1",
               "--out_dir", str(tmp_path / "run"), *TINY[4:]]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model_name"] == "mynet" and state["model_kwargs"] == {"channels": 4}


# --------------------------------------------------------------------------- demo, processes
def test_demo_on_scikit_image_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    train.main(["--demo", "--epochs", "1", "--lambda_ssim", "0.5", "--out_dir", str(out), *TINY])
    printed = capsys.readouterr().out
    assert "synthetic rain on scikit-image photos" in printed
    for name in ("coffee", "chelsea"):
        assert f"{name:10s} rainy  : PSNR" in printed
        assert f"{name:10s} derained: PSNR" in printed
    where = (out / "before_after.png").resolve()
    assert f"before/after image (rainy | derained | clean): {where}" in printed
    # coffee (400 x 600) over chelsea (300 x 451), three panels each
    assert read_image(out / "before_after.png").shape == (3, 700, 1800)
    used = load_checkpoint(out / "last.pt")["metadata"]["settings"]
    assert used["max_val_size"] == 256 and used["lr"] == 2e-3  # --demo's settings ...
    assert used["lambda_ssim"] == 0.5 and used["epochs"] == 1  # ... unless given


@pytest.mark.slow
def test_sigkill_then_resume_matches_straight_run(data: Path, tmp_path: Path) -> None:
    args = ["--data_dir", str(data / "train"), "--epochs", "4", *TINY, "--repeat", "30"]
    straight = tmp_path / "straight"
    train.main([*args, "--out_dir", str(straight)])
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, str(EXAMPLES / "train.py"), *args, "--out_dir",
                                str(killed)], env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "last.pt").exists() and process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("no checkpoint appeared within 120 s")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    reached = load_checkpoint(killed / "last.pt")["training"]["epoch"]
    assert 1 <= reached < 4  # killed mid-training, the checkpoint is complete
    train.main([*args, "--out_dir", str(killed), "--resume"])
    final, reference = load_checkpoint(killed / "last.pt"), load_checkpoint(straight / "last.pt")
    assert final["training"]["epoch"] == reference["training"]["epoch"] == 4
    for key, value in reference["model"].items():
        assert torch.equal(final["model"][key], value), key
    assert final["training"]["best_psnr"] == reference["training"]["best_psnr"]
    assert [r["epoch"] for r in _rows(killed / "log.csv")] == ["1", "2", "3", "4"]
    assert _rows(killed / "log.csv")[-1]["val_psnr"] == _rows(straight / "log.csv")[-1]["val_psnr"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["recipe", "paper"])
def test_two_cpu_processes(loss: str, data: Path, tmp_path: Path) -> None:
    # paper: NeRD-Rain's outputs through the StageOutputs wrapper, and a parameter its forward
    # never reads (NeRDRain.unused_parameters: DDP must be told, or its second step fails)
    network = [] if loss == "recipe" else [
        "--loss", "paper", "--model", "nerdrain", "--model_kwargs",
        json.dumps(rainkit.nn.FAMILIES["nerdrain"].test_kwargs["nerdrain"])]
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={_free_port()}", str(EXAMPLES / "train.py"),
               "--data_dir", str(data / "train"), "--epochs", "2", "--out_dir", str(out), *TINY,
               *network]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 process(es)" in result.stdout
    assert result.stdout.count("done: best PSNR") == 1  # only rank 0 reports and writes
    assert [r["epoch"] for r in _rows(out / "log.csv")] == ["1", "2"]
    state = load_checkpoint(out / "last.pt")
    assert not any(k.startswith("module.") for k in state["model"])  # plain, DDP-free weights

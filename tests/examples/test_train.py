"""examples/train.py on tiny settings: training outputs, test mode, exact resume after SIGKILL,
and two CPU processes under torch.distributed.run."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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


def test_train_writes_checkpoints_log_and_samples(data: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    train.main(["--data_dir", str(data / "train"), "--epochs", "2", "--out_dir", str(out), *TINY])
    printed = capsys.readouterr().out
    assert f"validation {data / 'val'}" in printed  # <data_dir>/../val found by default
    assert "image cache on (auto" in printed
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for key in ("train_loss", "train_charbonnier", "val_psnr", "val_ssim", "val_psnr_y",
                "val_ssim_y", "lr"):
        assert key in rows[0]
    # cosine schedule from --lr down to lr * min_lr_ratio after the last step
    assert float(rows[-1]["lr"]) == pytest.approx(1e-3 * 0.01)
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["model_name"] == "baseline" and state["epoch"] == 2
    assert state["model_kwargs"] == {"channels": 4, "num_blocks": 1}
    best = torch.load(out / "best.pt", weights_only=True)
    assert best["scores"]["psnr"] == pytest.approx(max(float(r["val_psnr"]) for r in rows),
                                                   abs=1e-4)
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["epoch001_p0.png", "epoch001_p1.png", "epoch002_p0.png", "epoch002_p1.png"]
    from rainkit.data import read_image

    assert read_image(out / "samples" / "epoch001_p0.png").shape == (3, 24, 60)  # 3 panels


def test_validation_split_without_val_folder(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    make_pairs(tmp_path / "only", 5)
    train.main(["--data_dir", str(tmp_path / "only"), "--epochs", "1", "--val_split", "0.4",
                "--out_dir", str(tmp_path / "run"), *TINY])
    assert "3 training, 2 validation pairs (split)" in capsys.readouterr().out


def test_image_cache_auto_on_off(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 6 pairs of 24x20 8-bit RGB: 2 files x 3 bytes x 480 pixels each
    assert train.decoded_size([data / "train", data / "val"]) == 6 * 2 * 3 * 24 * 20
    assert train.decide_cache("on", [data / "train"]) == (True, "image cache on")
    assert train.decide_cache("off", [data / "train"]) == (False, "image cache off")
    cache, note = train.decide_cache("auto", [data / "train"])
    assert cache and note.startswith("image cache on (auto: 0.00 GiB")
    monkeypatch.setattr(train, "CACHE_AUTO_GIB", 1e-9)
    assert train.decide_cache("auto", [data / "train"])[0] is False


def test_test_mode_and_wrong_architecture(data: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--out_dir", str(out), *TINY])
    capsys.readouterr()
    train.main(["--mode", "test", "--checkpoint", str(out / "best.pt"), "--val_dir",
                str(data / "val"), "--out_dir", str(out), "--lpips_weights", "none"])
    printed = capsys.readouterr().out
    assert "input :" in printed and "output:" in printed and "Y-PSNR" in printed
    assert sorted(p.name for p in (out / "test").iterdir()) == ["p0.png", "p1.png"]
    with pytest.raises(SystemExit, match="holds a 'baseline' network.*not 'unet'"):
        train.main(["--mode", "test", "--checkpoint", str(out / "best.pt"), "--val_dir",
                    str(data / "val"), "--model", "unet", "--lpips_weights", "none"])


def test_missing_vgg_weights_say_where(data: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(SystemExit, match="vgg19-dcbb9e9d.pth"):
        train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--use_perceptual_loss",
                    "--out_dir", str(tmp_path / "run"), *TINY])


def test_feature_losses_with_random_vgg(data: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--use_perceptual_loss",
                "--use_easy_contrastive_loss", "--use_contrastive_loss", "--vgg_weights", "none",
                "--out_dir", str(tmp_path / "run"), *TINY])
    rows = _rows(tmp_path / "run" / "log.csv")
    for term in ("charbonnier", "perceptual", "easy_contrastive", "contrastive"):
        assert f"train_{term}" in rows[0]


@pytest.mark.slow
def test_sigkill_then_resume_matches_straight_run(data: Path, tmp_path: Path) -> None:
    epochs = "4"
    args = ["--data_dir", str(data / "train"), "--epochs", epochs, *TINY, "--repeat", "30"]
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
    reached = torch.load(killed / "last.pt", weights_only=True)["epoch"]
    assert 1 <= reached < int(epochs)  # killed mid-training, the checkpoint is complete

    train.main([*args, "--out_dir", str(killed), "--resume"])
    final = torch.load(killed / "last.pt", weights_only=True)
    reference = torch.load(straight / "last.pt", weights_only=True)
    assert final["epoch"] == reference["epoch"] == int(epochs)
    for key, value in reference["model"].items():
        assert torch.equal(final["model"][key], value), key
    assert final["best_psnr"] == reference["best_psnr"]
    assert _rows(killed / "log.csv")[-1]["val_psnr"] == _rows(straight / "log.csv")[-1]["val_psnr"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_cpu_processes(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={_free_port()}", str(EXAMPLES / "train.py"),
               "--data_dir", str(data / "train"), "--epochs", "2", "--out_dir", str(out), *TINY]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 process(es)" in result.stdout
    assert result.stdout.count("done: best PSNR") == 1  # only rank 0 reports and writes
    rows = _rows(out / "log.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    state = torch.load(out / "last.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in state["model"])  # plain, DDP-free weights


def test_demo_on_scikit_image_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    train.main(["--demo", "--epochs", "1", "--out_dir", str(out), *TINY])
    printed = capsys.readouterr().out
    assert "synthetic rain on scikit-image photos" in printed
    for name in ("coffee", "chelsea"):
        assert f"{name:10s} rainy  : PSNR" in printed
        assert f"{name:10s} derained: PSNR" in printed
    where = (out / "before_after.png").resolve()
    assert f"before/after image (rainy | derained | clean): {where}" in printed
    from rainkit.data import read_image

    grid = read_image(out / "before_after.png")
    # coffee (400 x 600) over chelsea (300 x 451), three panels each
    assert grid.shape == (3, 700, 1800)


def test_recipe_kwargs_only_for_the_recipe_network(data: Path, tmp_path: Path) -> None:
    flags = TINY[4:]  # TINY without --model and --model_kwargs
    train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--model", "baseline",
                "--out_dir", str(tmp_path / "run"), *flags])
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["model_name"] == "baseline" and state["model_kwargs"] == {}


def test_demo_uses_the_small_unet_unless_told(tmp_path: Path) -> None:
    def parsed(argv: list[str]) -> object:
        parser = train.build_parser()
        args = parser.parse_args(argv)
        train.finalize_args(args, parser, argv)
        return args

    assert parsed(["--demo"]).model_kwargs == '{"base_channels": 16}'
    assert parsed(["--demo", "--model", "baseline"]).model_kwargs is None
    assert parsed(["--demo", "--model_kwargs", '{"base_channels": 8}']).model_kwargs == \
        '{"base_channels": 8}'
    assert parsed([]).model_kwargs is None  # the recipe's own default applies later
    assert parsed(["--demo"]).lambda_ssim == 0.0
    assert parsed(["--demo", "--lambda_ssim", "0.5"]).lambda_ssim == 0.5


def test_amp_on_cpu_uses_bfloat16_autocast(data: Path, tmp_path: Path) -> None:
    train.main(["--data_dir", str(data / "train"), "--epochs", "1", "--amp",
                "--out_dir", str(tmp_path / "run"), *TINY])
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())
    assert state["args"]["amp"] is True


def test_channels_last_trains_the_same_model(data: Path, tmp_path: Path) -> None:
    runs = {}
    for name, flags in (("default", []), ("nhwc", ["--channels_last"])):
        train.main(["--data_dir", str(data / "train"), "--epochs", "1", *flags,
                    "--out_dir", str(tmp_path / name), *TINY])
        state = torch.load(tmp_path / name / "last.pt", weights_only=True)
        assert state["args"]["channels_last"] is bool(flags)
        runs[name] = state["model"]
    assert runs["default"].keys() == runs["nhwc"].keys()
    for key, value in runs["default"].items():
        # Same seed and data: only the order of floating-point sums differs between layouts.
        torch.testing.assert_close(runs["nhwc"][key].contiguous(), value, atol=1e-4, rtol=1e-3)


def test_bad_flags_rejected(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train.main(["--data_dir", str(data / "train"), "--epochs", "0", *TINY])
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--mode", "test"])
    assert "--mode test needs --checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--model", "nonexistent"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--data_dir", str(data / "train"), *TINY, "--patch_size", "8",
                    "--lambda_ssim", "0.2"])
    assert "--patch_size must be >= 11 (the SSIM loss window)" in capsys.readouterr().err


def test_missing_lpips_weights_one_notice(data: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    args = [a for a in TINY if a not in ("--lpips_weights", "none")]
    train.main(["--data_dir", str(data / "train"), "--epochs", "2", "--out_dir",
                str(tmp_path / "run"), *args])
    printed = capsys.readouterr().out
    notices = [line for line in printed.splitlines() if line.startswith("notice:")]
    assert len(notices) == 1 and "LPIPS skipped" in notices[0]
    assert "alexnet-owt-7be5be79.pth" in notices[0]
    assert "val_lpips" not in _rows(tmp_path / "run" / "log.csv")[0]

"""rainkit.training: run folders, CSV logs, resumed settings, devices, DDP sums, validation."""

from __future__ import annotations

import csv
import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from rainkit.training import (
    Validator,
    all_reduce_sum,
    append_log_row,
    centre_crop,
    claim_run_dir,
    distributed_session,
    merge_settings,
    pick_device,
    truncate_log,
)


# --------------------------------------------------------------------------- claim_run_dir
def test_claim_refuses_an_earlier_run_and_leaves_it_untouched(tmp_path: Path) -> None:
    (tmp_path / "last.pt").write_bytes(b"weights")
    (tmp_path / "log.csv").write_text("epoch\n1\n")
    with pytest.raises(FileExistsError, match="holds last.pt, log.csv of an earlier run"):
        claim_run_dir(tmp_path, ["last.pt", "best.pt", "log.csv"])
    assert (tmp_path / "last.pt").read_bytes() == b"weights"
    assert claim_run_dir(tmp_path / "new", ["last.pt"]) == []  # a missing folder is free


def test_claim_overwrite_deletes_outputs_and_cleared_files_only(tmp_path: Path) -> None:
    for name in ("last.pt", "notes.txt", "samples/epoch001_a.png", "samples/keep.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    # another process sharing the folder checks but leaves the deleting to the first one
    assert claim_run_dir(tmp_path, ["last.pt"], overwrite=True, remove=False) == []
    assert (tmp_path / "last.pt").exists()
    removed = claim_run_dir(tmp_path, ["last.pt", "log.csv"], overwrite=True,
                            clear=["samples/epoch*.png"])
    assert removed == [tmp_path / "last.pt", tmp_path / "samples" / "epoch001_a.png"]
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["notes.txt", os.path.join("samples", "keep.png")]


def test_claim_rejects_a_string_of_names(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="outputs must be a sequence"):
        claim_run_dir(tmp_path, "last.pt")
    with pytest.raises(TypeError, match="clear must be a sequence"):
        claim_run_dir(tmp_path, ["last.pt"], clear="*.png")


# --------------------------------------------------------------------------- CSV log
def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_append_writes_one_header_and_rows_in_order(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    for epoch in (1, 2):
        append_log_row(log, {"epoch": epoch, "loss": 0.5 / epoch, "note": "a,b"})
    assert _read(log) == [{"epoch": "1", "loss": "0.5", "note": "a,b"},
                          {"epoch": "2", "loss": "0.25", "note": "a,b"}]
    with pytest.raises(TypeError, match="row must be a mapping"):
        append_log_row(log, [("epoch", 3)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one column"):
        append_log_row(log, {})


def test_truncate_keeps_rows_up_to_the_epoch_and_drops_a_torn_row(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    for epoch in (1, 2, 3):
        append_log_row(log, {"epoch": epoch, "loss": epoch / 10})
    with open(log, "a") as handle:
        handle.write("4")  # a row cut short by a kill: too few fields
    truncate_log(log, 2, ["epoch", "loss"])
    assert _read(log) == [{"epoch": "1", "loss": "0.1"}, {"epoch": "2", "loss": "0.2"}]
    truncate_log(log, 0, ["epoch", "loss"])
    assert log.read_text().splitlines() == ["epoch,loss"]
    assert not list(tmp_path.glob(".*.tmp"))
    truncate_log(tmp_path / "missing.csv", 3, ["epoch"])  # nothing to cut: stays missing
    assert not (tmp_path / "missing.csv").exists()


def test_truncate_refuses_other_columns_and_keeps_the_file(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    append_log_row(log, {"epoch": 1, "val_psnr": 20.0, "val_lpips": 0.3})
    before = log.read_bytes()
    with pytest.raises(ValueError, match="has the columns epoch, val_psnr, val_lpips, this run "
                                         "would add epoch, val_psnr"):
        truncate_log(log, 1, ["epoch", "val_psnr"])
    assert log.read_bytes() == before


@pytest.mark.parametrize(("epoch", "columns", "error", "match"), [
    (-1, ["epoch"], ValueError, "epoch must be >= 0"),
    (1.5, ["epoch"], TypeError, "epoch"),
    (True, ["epoch"], TypeError, "epoch"),
    (1, "epoch", TypeError, "columns must be a sequence"),
    (1, ["loss"], ValueError, "key must be one of the columns loss"),
])
def test_truncate_bad_arguments(tmp_path: Path, epoch: object, columns: object,
                                error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        truncate_log(tmp_path / "log.csv", epoch, columns)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- merge_settings
def test_merge_takes_given_values_and_keeps_stored_extras() -> None:
    stored = {"epochs": 10, "data_dir": "/old", "seed": 0}
    merged = merge_settings(stored, {"epochs": 10, "data_dir": "/new", "workers": 4},
                            ["epochs", "seed"])
    assert merged == {"epochs": 10, "data_dir": "/new", "seed": 0, "workers": 4}
    assert stored == {"epochs": 10, "data_dir": "/old", "seed": 0}  # not modified


def test_merge_lists_every_conflict_with_both_values() -> None:
    with pytest.raises(ValueError) as err:
        merge_settings({"epochs": 10, "lr": 0.001, "seed": 0},
                       {"epochs": 20, "lr": 0.01, "seed": 0}, ("epochs", "lr", "seed"),
                       label="--{}")
    assert str(err.value) == ("these settings differ from the stored ones: --epochs 20 "
                              "(stored: 10), --lr 0.01 (stored: 0.001)")


def test_merge_bad_arguments() -> None:
    with pytest.raises(TypeError, match="stored must be a mapping"):
        merge_settings([], {}, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="given must be a mapping"):
        merge_settings({}, None, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fixed must be a collection"):
        merge_settings({}, {}, "epochs")


# --------------------------------------------------------------------------- pick_device
def test_pick_device_auto_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("auto", local_rank=1) == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda:0")
    with pytest.raises(ValueError, match="MPS is not available"):
        pick_device("mps")
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: True)
        assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert pick_device("cuda", local_rank=2) == torch.device("cuda", 2)
    assert pick_device("cuda:0", local_rank=2) == torch.device("cuda", 0)  # an index wins


def test_pick_device_bad_arguments() -> None:
    with pytest.raises(ValueError, match="flag must be 'auto' or a device .* got 'gpu'"):
        pick_device("gpu")
    with pytest.raises(TypeError, match="flag must be a device string"):
        pick_device(0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="local_rank must be >= 0"):
        pick_device("cpu", local_rank=-1)


# --------------------------------------------------------------------------- DDP
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    with distributed_session("cpu") as (got_rank, world):
        sums = all_reduce_sum({"loss": 0.1 * (rank + 1), "count": 1.0 + rank})
        clean = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        pairs = [(c.flip(-1), c, f"p{i}") for i, c in enumerate(clean)]
        validator = Validator(pairs, max_size=None, rank=got_rank, world=world)
        scores, _ = validator.score(lambda rainy: rainy)
    Path(folder, f"{rank}.txt").write_text(
        f"{got_rank} {world} {dist.is_initialized()} {sums['loss']!r} {sums['count']!r} "
        f"{scores['psnr']!r}")


def test_distributed_session_and_sums_over_two_processes(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    clean = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    single = Validator([(c.flip(-1), c, "") for c in clean]).score(lambda rainy: rainy)[0]
    for rank in (0, 1):
        got_rank, world, alive, loss, count, psnr = (tmp_path / f"{rank}.txt").read_text().split()
        assert (int(got_rank), int(world), alive) == (rank, 2, "False")  # group torn down
        assert math.isclose(float(loss), 0.1 + 0.2) and float(count) == 3.0
        assert math.isclose(float(psnr), single["psnr"], rel_tol=1e-12)  # 2 pairs each


def test_single_process_session_and_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed_session("cpu") as (rank, world):
        assert (rank, world) == (0, 1) and not dist.is_initialized()
    assert all_reduce_sum({"a": 1, "b": 2.5}) == {"a": 1.0, "b": 2.5}
    with pytest.raises(TypeError, match="values must be a mapping"):
        all_reduce_sum([1.0])  # type: ignore[arg-type]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match="RANK is missing"), distributed_session("cpu"):
        pass


# --------------------------------------------------------------------------- validation
def test_centre_crop() -> None:
    image = torch.arange(5 * 8.0).reshape(1, 5, 8)
    assert torch.equal(centre_crop(image, 3), image[:, 1:4, 2:5])
    assert centre_crop(image, 100) is not None and centre_crop(image, 100).shape == (1, 5, 8)
    assert centre_crop(image, None) is image
    with pytest.raises(ValueError, match="size must be >= 1"):
        centre_crop(image, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        centre_crop(torch.zeros(4), 2)
    with pytest.raises(TypeError, match="image must be a torch.Tensor"):
        centre_crop(np.zeros((4, 4)), 2)  # type: ignore[arg-type]


def _y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of MATLAB's rgb2ycbcr on [0, 1] RGB, in [16, 235] / 255 (published formula)."""
    return (16.0 + 65.481 * image[..., 0] + 128.553 * image[..., 1]
            + 24.966 * image[..., 2]) / 255.0


def test_validator_scores_match_scikit_image(rng: np.random.Generator) -> None:
    clean = rng.random((2, 3, 40, 48))
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    pairs = [(torch.from_numpy(n).float(), torch.from_numpy(c).float(), f"p{i}")
             for i, (n, c) in enumerate(zip(noisy, clean))]
    scores, grids = Validator(pairs, max_size=32).score(lambda rainy: rainy, keep=1)
    assert sorted(scores) == ["psnr", "psnr_y", "ssim", "ssim_y"]
    assert [name for name, _ in grids] == ["p0"] and grids[0][1].shape == (3, 32, 96)
    expected: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_y": [], "ssim_y": []}
    for n, c in zip(noisy, clean):
        n, c = (np.float32(x[:, 4:36, 8:40]).transpose(1, 2, 0) for x in (n, c))  # centre crop
        expected["psnr"].append(peak_signal_noise_ratio(c, n, data_range=1.0))
        expected["psnr_y"].append(peak_signal_noise_ratio(_y(c), _y(n), data_range=1.0))
        # Wang et al. 2004: Gaussian window, sigma 1.5, sample covariance off
        options = {"data_range": 1.0, "gaussian_weights": True, "sigma": 1.5,
                   "use_sample_covariance": False}
        expected["ssim"].append(structural_similarity(c, n, channel_axis=2, **options))
        expected["ssim_y"].append(structural_similarity(_y(c), _y(n), **options))
    for name, values in expected.items():
        assert scores[name] == pytest.approx(np.mean(values), abs=2e-3), name


def test_validator_lpips_column_and_errors() -> None:
    class Half(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0],), 0.5)

    pair = (torch.rand(3, 16, 16), torch.rand(3, 16, 16), "a")
    validator = Validator([pair], lpips=Half())
    assert validator.names == ["psnr", "ssim", "psnr_y", "ssim_y", "lpips"]
    assert validator.score(lambda rainy: rainy)[0]["lpips"] == 0.5
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        Validator([(torch.rand(3, 8, 30), torch.rand(3, 8, 30), "small")]).score(lambda r: r)
    with pytest.raises(ValueError, match="max_size must be >= 11"):
        Validator([pair], max_size=8)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        Validator([pair], rank=2, world=2)
    with pytest.raises(TypeError, match="pairs must be a sequence"):
        Validator(iter([pair]))  # type: ignore[arg-type]

"""rainkit.training: device choice, torchrun session, sums over processes."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rainkit.training import (
    Validator,
    all_reduce_sum,
    distributed_session,
    pick_device,
)


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


def test_device_and_values_are_checked_without_a_process_group() -> None:
    # found by tests/test_public_api_fuzz.py: accepted silently, or torch's RuntimeError
    with pytest.raises(ValueError, match="device must be a device such as .* got 'bogus'"):
        all_reduce_sum({"loss": 1.0}, "bogus")
    with pytest.raises(TypeError, match="device must be a torch.device or a str"):
        all_reduce_sum({"loss": 1.0}, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"values\['loss'\] must be a real number, got str"):
        all_reduce_sum({"loss": "1.5"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"values\['bad'\] must be a real number, got bool"):
        all_reduce_sum({"bad": True})
    assert math.isnan(all_reduce_sum({"loss": math.nan})["loss"])  # a diverged loss still sums
    with pytest.raises(ValueError, match="device must be a device such as"), \
            distributed_session("bogus"):
        pass
    with pytest.raises(ValueError, match="device 'cuda:99'"), distributed_session("cuda:99"):
        pass

"""rainkit.training: the run folder, the CSV log and record_epoch."""

from __future__ import annotations

import csv
import errno
import os
from pathlib import Path

import pytest
import torch

import rainkit._files
import rainkit.checkpoint
from _full_disk import FullDisk
from rainkit.checkpoint import load_checkpoint
from rainkit.training import append_log_row, claim_run_dir, record_epoch, run_dir, truncate_log


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


# --------------------------------------------------------------------------- record_epoch
def _record(folder: Path, epoch: int, net: torch.nn.Module, best: bool = False) -> None:
    record_epoch(folder, epoch, net, model_name="baseline", model_kwargs={"channels": 4},
                 log_row={"loss": 1.0 / epoch}, training={"epoch": epoch}, best=best,
                 metadata={"scores": {"psnr": 20.0 + epoch}},
                 samples=[("a", torch.full((3, 4, 6), 0.5))])


def test_record_epoch_writes_every_output(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    _record(tmp_path, 1, net, best=True)
    _record(tmp_path, 2, net)
    assert [r["epoch"] for r in _read(tmp_path / "log.csv")] == ["1", "2"]
    assert (tmp_path / "samples" / "epoch002_a.png").is_file()
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert last["training"] == {"epoch": 2} and last["metadata"]["epoch"] == 2
    assert last["model_name"] == "baseline" and last["model_kwargs"] == {"channels": 4}
    assert best["training"] == {} and best["metadata"] == {"epoch": 1,
                                                          "scores": {"psnr": 21.0}}


def test_record_epoch_kill_before_last_pt_keeps_the_previous_epoch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    _record(tmp_path, 1, net)
    save = run_dir.write_checkpoint

    def killed_at_last_pt(path: Path, *args: object) -> object:
        if path.name == "last.pt":
            raise KeyboardInterrupt
        return save(path, *args)

    monkeypatch.setattr(run_dir, "write_checkpoint", killed_at_last_pt)
    with pytest.raises(KeyboardInterrupt):
        _record(tmp_path, 2, net, best=True)
    # the order: samples, log row and best.pt of epoch 2 are there, last.pt is epoch 1's
    assert (tmp_path / "samples" / "epoch002_a.png").is_file()
    assert [r["epoch"] for r in _read(tmp_path / "log.csv")] == ["1", "2"]
    assert load_checkpoint(tmp_path / "best.pt")["metadata"]["epoch"] == 2
    assert load_checkpoint(tmp_path / "last.pt")["training"] == {"epoch": 1}


def test_record_epoch_full_disk_names_the_file(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    _record(tmp_path, 1, net)
    monkeypatch.setattr(rainkit._files, "open", FullDisk, raising=False)
    with pytest.raises(OSError) as err:
        _record(tmp_path, 2, net)
    assert err.value.errno == errno.ENOSPC
    assert f"could not write {tmp_path / 'last.pt'}: No space left on device" in str(err.value)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "last.pt")["training"] == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["last.pt", "log.csv"]


def test_record_epoch_bad_arguments(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    kwargs = {"model_name": "x", "log_row": {}, "training": {}}
    with pytest.raises(ValueError, match="epoch must be >= 1, got 0"):
        record_epoch(tmp_path, 0, net, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="best must be a bool"):
        record_epoch(tmp_path, 1, net, best=1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="log_row must be a mapping"):
        record_epoch(tmp_path, 1, net, model_name="x", log_row=[1], training={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="folder must be a str or os.PathLike"):
        record_epoch(None, 1, net, **kwargs)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_bad_folders_names_and_logs_give_clear_errors(tmp_path: Path) -> None:
    # found by tests/test_public_api_fuzz.py: crashes inside pathlib/csv, silent acceptance
    text = tmp_path / "text.txt"
    text.write_text("not a log\n")
    with pytest.raises(ValueError, match="folder must be a folder, got the file"):
        claim_run_dir(text, ["last.pt"])
    with pytest.raises(ValueError, match="folder must not be empty"):
        claim_run_dir("", ["last.pt"])
    for names in (["/etc/passwd"], ["../last.pt"], [""]):
        with pytest.raises(ValueError, match="outputs must hold non-empty names relative"):
            claim_run_dir(tmp_path, names, overwrite=True)
    with pytest.raises(TypeError, match="clear must be a sequence of names, got int"):
        claim_run_dir(tmp_path, ["last.pt"], clear=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="overwrite must be a bool"):
        claim_run_dir(tmp_path, ["last.pt"], overwrite="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a log with the columns"):
        append_log_row(text, {"epoch": 1})
    assert text.read_text() == "not a log\n"  # unchanged
    with pytest.raises(ValueError, match="path must be a CSV file, got the folder"):
        append_log_row(tmp_path, {"epoch": 1})
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        append_log_row(tmp_path / "missing" / "log.csv", {"epoch": 1})
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="is not a CSV log"):
        truncate_log(binary, 1, ["epoch"])
    with pytest.raises(TypeError, match="columns must be a sequence of names, got int"):
        truncate_log(binary, 1, 3)  # type: ignore[arg-type]
    empty = tmp_path / "empty.csv"
    empty.touch()  # a log cut off before its header: the first row writes the header
    append_log_row(empty, {"epoch": 1})
    assert empty.read_text().splitlines() == ["epoch", "1"]


def test_record_epoch_checks_before_writing_and_creates_its_folder(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    options = {"model_name": "conv", "log_row": {"loss": 0.5}, "training": {"epoch": 1}}
    run = tmp_path / "new" / "run"
    record_epoch(run, 1, net, **options)  # type: ignore[arg-type]
    assert sorted(p.name for p in run.iterdir()) == ["last.pt", "log.csv"]
    bad = [({"training": None}, TypeError, "training must be a mapping"),
           ({"metadata": "ab"}, TypeError, "metadata must be a mapping or None"),
           ({"model_kwargs": [1]}, TypeError, "model_kwargs must be a mapping or None"),
           ({"samples": [("a",)]}, TypeError, r"samples\[0\] must be a \(str name, tensor"),
           ({"samples": [("a", torch.rand(5, 4, 4))]}, ValueError, r"samples\[0\] \('a'\)")]
    for change, error, match in bad:
        folder = tmp_path / f"bad{len(list(tmp_path.iterdir()))}"
        with pytest.raises(error, match=match):
            record_epoch(folder, 1, net, **{**options, **change})  # type: ignore[arg-type]
        assert not (folder / "log.csv").exists()  # nothing of the epoch was logged
    with pytest.raises(ValueError, match="folder must be a folder, got the file"):
        record_epoch(run / "log.csv", 2, net, **options)  # type: ignore[arg-type]


def test_record_epoch_checks_once_and_writes_nothing_for_non_finite_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = torch.nn.Conv2d(3, 3, 1)
    calls = []
    prepare = run_dir.prepare_checkpoint

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(kwargs["model_name"])
        return prepare(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run_dir, "prepare_checkpoint", counted)
    _record(tmp_path, 1, net, best=True)
    assert calls == ["baseline"]  # one check and one weight scan for best.pt and last.pt
    with torch.no_grad():
        net.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite weights"):
        _record(tmp_path, 2, net, best=True)
    assert not (tmp_path / "samples" / "epoch002_a.png").exists()
    assert [r["epoch"] for r in _read(tmp_path / "log.csv")] == ["1"]
    assert load_checkpoint(tmp_path / "best.pt")["metadata"]["epoch"] == 1

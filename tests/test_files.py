"""Tests of rainkit._files: the one atomic-write helper."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

import rainkit._files
from _full_disk import FullDisk
from rainkit._files import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_creates_folders_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.bin"
    assert atomic_write(target, lambda h: h.write(b"12")) == target
    assert target.read_bytes() == b"12"
    assert _names(target.parent) == ["x.bin"]


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert _names(tmp_path) == ["x.txt"]


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "x", b"")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_writer_error_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")

    def half(handle: object) -> None:
        handle.write(b"partial")  # type: ignore[attr-defined]
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_write(target, half)
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["x.txt"]


def test_keyboard_interrupt_cleans_up(tmp_path: Path) -> None:
    def interrupted(handle: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x", interrupted)
    assert _names(tmp_path) == []


def test_full_disk_raises_enospc_and_leaves_nothing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(rainkit._files, "open", FullDisk, raising=False)
    with pytest.raises(OSError) as err:
        atomic_write_bytes(target, b"new")
    assert err.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["x.png"]


def test_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x"
    target.write_bytes(b"old")

    def crash(*args: object) -> None:
        raise OSError(errno.EIO, "simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["x"]


def test_atomic_path_keeps_the_suffix_and_needs_a_file(tmp_path: Path) -> None:
    target = tmp_path / "image.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".")
        tmp.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    with pytest.raises(ValueError, match="nothing was written"), atomic_path(tmp_path / "y"):
        pass
    assert _names(tmp_path) == ["image.png"]


def test_concurrent_writers_never_mix(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=atomic_write_bytes, args=(target, p)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in payloads  # one whole payload, never a blend
    assert _names(tmp_path) == ["x.bin"]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda p: atomic_write(p, b"data"), TypeError, "write must be a callable"),
    (lambda p: atomic_write_bytes(p, "text"), TypeError, "data must be bytes"),
    (lambda p: atomic_write_text(p, b"bytes"), TypeError, "text must be a str"),
    (lambda p: atomic_write_bytes(3, b""), TypeError, "path must be a str or os.PathLike"),
    (lambda p: atomic_write_bytes(p.parent, b""), ValueError, "must be a file path"),
    (lambda p: atomic_write_bytes("", b""), ValueError, "must not be empty"),
])
def test_bad_arguments(tmp_path: Path, call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(tmp_path / "x")  # type: ignore[operator]

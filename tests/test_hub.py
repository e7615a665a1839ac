"""Weight files: the hub cache, SHA-256 checks and opt-in downloads (file:// only, no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rainkit._hub import (
    download_file,
    hub_checkpoint_dir,
    resolve_weights_file,
    sha256_file,
    verify_sha256,
)


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_hub_dir_follows_torch_home(torch_home: Path) -> None:
    assert hub_checkpoint_dir() == torch_home / "hub" / "checkpoints"


def test_missing_file_message_names_file_folder_and_url(torch_home: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        resolve_weights_file("w.pth", what="Test weights", url="https://example.org/w.pth",
                             hint="Run 'rainkit download x'.")
    message = str(info.value)
    assert "'w.pth'" in message and str(torch_home / "hub" / "checkpoints") in message
    assert "https://example.org/w.pth" in message and "rainkit download x" in message


def test_explicit_path_wins_and_must_exist(tmp_path: Path, torch_home: Path) -> None:
    path = tmp_path / "mine.pth"
    path.write_bytes(b"x")
    assert resolve_weights_file("w.pth", path, what="Test weights") == path
    with pytest.raises(FileNotFoundError, match="file not found at"):
        resolve_weights_file("w.pth", tmp_path / "missing.pth", what="Test weights")


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=1000) == hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match="has SHA-256"):
        verify_sha256(path, "0" * 64, what="Test weights")


def test_download_checks_the_hash_and_keeps_nothing_wrong(tmp_path: Path) -> None:
    source = tmp_path / "source.pth"
    source.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    target = tmp_path / "cache" / "w.pth"
    with pytest.raises(ValueError, match="has SHA-256"):
        download_file(source.as_uri(), target, "f" * 64, what="Test weights")
    assert not target.exists() and list(target.parent.iterdir()) == []
    assert download_file(source.as_uri(), target, good, what="Test weights") == target
    assert target.read_bytes() == b"weights"
    # a good copy is kept; a damaged one is an error unless overwrite=True
    target.write_bytes(b"damaged")
    with pytest.raises(ValueError, match="has SHA-256"):
        download_file(source.as_uri(), target, good, what="Test weights")
    download_file(source.as_uri(), target, good, what="Test weights", overwrite=True)
    assert target.read_bytes() == b"weights"


def test_download_failure_names_the_url(tmp_path: Path) -> None:
    url = (tmp_path / "nowhere.pth").as_uri()
    with pytest.raises(OSError, match="nowhere.pth"):
        download_file(url, tmp_path / "w.pth", "0" * 64, what="Test weights")
    assert not (tmp_path / "w.pth").exists()

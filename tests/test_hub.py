"""Weight files: the hub cache, SHA-256 checks and opt-in downloads (file:// and a local HTTP server
on the loopback address; nothing leaves the machine)."""

from __future__ import annotations

import collections
import errno
import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import rainkit._hub
from _full_disk import FullDisk
from _loopback import loopback_server
from rainkit._hub import (
    RETRY_DELAYS,
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


# --------------------------------------------------------------------------- against a real server
# A local HTTP server on the loopback address: every download path goes through the same code as
# a real one (urllib, headers, status codes, cut connections), and nothing leaves the machine.
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[collections.Counter[str]] = collections.Counter()

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        type(self).hits[self.path] += 1
        if self.path == "/missing.pth":
            self.send_error(404, "Not Found")
        elif self.path == "/page.pth":
            body = b"<!DOCTYPE html><html><body>Virus scan warning</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/flaky.pth" and type(self).hits[self.path] <= 2:
            self.send_error(503, "Service Unavailable")
        elif self.path == "/cut.pth":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.close_connection = True
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            for start in range(0, len(PAYLOAD), 1 << 16):
                if self.path == "/slow.pth":
                    time.sleep(0.01)
                self.wfile.write(PAYLOAD[start:start + (1 << 16)])


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits.clear()
    with loopback_server(_Handler) as url:
        yield url


def _no_wait(seconds: float) -> None:
    pass


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_from_a_server(server: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cache" / "w.pth"
    assert download_file(f"{server}/good.pth", target, PAYLOAD_SHA, what="Test weights",
                         progress=True) == target
    assert target.read_bytes() == PAYLOAD and _leftovers(target.parent) == ["w.pth"]
    assert "w.pth" in capsys.readouterr().err  # the progress bar names the file
    # a second call finds the good copy and does not download again
    download_file(f"{server}/good.pth", target, PAYLOAD_SHA, what="Test weights")
    assert _Handler.hits["/good.pth"] == 1
    # torchvision's 8-digit prefix of the SHA-256 is accepted as the expected hash
    other = tmp_path / "cache" / "v.pth"
    download_file(f"{server}/good.pth", other, PAYLOAD_SHA[:8], what="Test weights")
    assert other.read_bytes() == PAYLOAD


def test_a_404_is_named_and_leaves_nothing(server: str, tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"HTTP 404 Not Found \(no such file on the server\); "
                                      "nothing was kept"):
        download_file(f"{server}/missing.pth", tmp_path / "w.pth", PAYLOAD_SHA,
                      what="Test weights", sleep=_no_wait)
    assert _leftovers(tmp_path) == [] and _Handler.hits["/missing.pth"] == 1  # not retried


def test_an_html_page_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="served an HTML page, not the file.*in a browser"):
        download_file(f"{server}/page.pth", tmp_path / "w.pth", PAYLOAD_SHA, what="Test weights")
    assert _leftovers(tmp_path) == []


def test_server_errors_are_retried_with_backoff(server: str, tmp_path: Path) -> None:
    waits: list[float] = []
    download_file(f"{server}/flaky.pth", tmp_path / "w.pth", PAYLOAD_SHA, what="Test weights",
                  sleep=waits.append)
    assert _Handler.hits["/flaky.pth"] == 3 and waits == list(RETRY_DELAYS[:2])
    assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_an_interrupted_transfer_is_retried_then_reported(server: str, tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"failed after 4 tries: the connection closed after "
                                      r"349,[0-9]{3} of 1,048,576 bytes; nothing was kept\. "
                                      r"Without network access here, .* --url FILE"):
        download_file(f"{server}/cut.pth", tmp_path / "w.pth", PAYLOAD_SHA, what="Test weights",
                      sleep=_no_wait)
    assert _Handler.hits["/cut.pth"] == 4 and _leftovers(tmp_path) == []


def test_ctrl_c_leaves_nothing(server: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(path: object, mode: str) -> object:
        raise KeyboardInterrupt

    original = rainkit._hub._stream

    def stream_then_stop(*args: object, **kwargs: object) -> str:
        original(*args, **kwargs)  # the temporary file is complete ...
        raise KeyboardInterrupt  # ... when the user presses Ctrl-C

    monkeypatch.setattr(rainkit._hub, "_stream", stream_then_stop)
    with pytest.raises(KeyboardInterrupt):
        download_file(f"{server}/good.pth", tmp_path / "w.pth", PAYLOAD_SHA, what="Test weights")
    assert _leftovers(tmp_path) == []


def test_a_full_disk_is_named_and_leaves_nothing(server: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rainkit._hub, "open", FullDisk, raising=False)
    with pytest.raises(OSError, match="no space left on the device.*nothing was kept.*TORCH_HOME"
                       ) as info:
        download_file(f"{server}/good.pth", tmp_path / "w.pth", PAYLOAD_SHA, what="Test weights")
    assert info.value.errno == errno.ENOSPC and _leftovers(tmp_path) == []


def test_concurrent_downloads_of_one_file_take_turns(server: str, tmp_path: Path) -> None:
    target = tmp_path / "w.pth"
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            download_file(f"{server}/slow.pth", target, PAYLOAD_SHA, what="Test weights")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and target.read_bytes() == PAYLOAD
    assert _Handler.hits["/slow.pth"] == 1  # the others waited and found the file
    assert _leftovers(tmp_path) == ["w.pth"]


def test_a_plain_path_is_a_source(tmp_path: Path) -> None:
    source = tmp_path / "copy.pth"
    source.write_bytes(PAYLOAD)
    target = download_file(str(source), tmp_path / "cache" / "w.pth", PAYLOAD_SHA,
                           what="Test weights")
    assert target.read_bytes() == PAYLOAD
    with pytest.raises(FileNotFoundError, match="no file at"):
        download_file(str(tmp_path / "absent.pth"), target, PAYLOAD_SHA, what="Test weights")


def test_an_existing_wrong_file_says_nothing_was_downloaded(tmp_path: Path) -> None:
    target = tmp_path / "w.pth"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="It was there before this call \\(nothing was "
                                         "downloaded\\)"):
        download_file(str(target), target, PAYLOAD_SHA, what="Test weights")
    assert target.read_bytes() == b"old"

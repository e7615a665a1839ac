"""``rainkit download``: published checkpoints and backbones, from a URL or a plain path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
               if (p / "pretrained" / "prenet").is_dir()), None)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_a_checkpoint_from_a_plain_path(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if SHARED is None:
        pytest.skip("../shared/pretrained is absent")
    source = SHARED / "pretrained" / "prenet" / "Rain100H-PRN6_r.pth"
    assert main(["download", "prn_r-rain100h", "--url", str(source)]) == 0
    out = capsys.readouterr().out
    assert "prn_r-rain100h: downloaded: " in out and "(SHA-256 verified)" in out
    assert (hub / "prn_r-rain100h-99242ce0.pth").read_bytes() == source.read_bytes()
    assert main(["download", "prn_r-rain100h", "--url", str(source)]) == 0
    assert "prn_r-rain100h: already there" in capsys.readouterr().out


def test_a_backbone_with_a_wrong_file_keeps_nothing(hub: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "vgg19.pth"
    fake.write_bytes(b"not the weights")
    assert main(["download", "vgg19", "--url", str(fake)]) == 1
    err = capsys.readouterr().err
    assert "VGG19 ImageNet weights" in err and "expected dcbb9e9d" in err
    assert "it was not kept" in err
    assert not hub.exists() or list(hub.iterdir()) == []


def test_names_and_misspellings(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "vgg91"]) == 1
    assert "did you mean 'vgg19'" in capsys.readouterr().err
    assert main(["download"]) == 1
    assert "alexnet" in capsys.readouterr().err
    assert main(["download", "vgg19", "alexnet", "--url", "x"]) == 1
    assert "--url needs exactly one name" in capsys.readouterr().err
    assert main(["download", "alexnet", "--url", str(hub / "absent.pth")]) == 1
    assert "no file at" in capsys.readouterr().err

"""``rainkit derain``: results for every readable image, nothing the user owns overwritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import rainkit.nn
from rainkit.checkpoint import load_model
from rainkit.cli import main

from .conftest import write_rgb


def test_derains_a_folder_and_matches_the_model(checkpoint: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    array = write_rgb(photos / "a.png", 40, 52)
    write_rgb(photos / "b.png", seed=1)
    assert main(["derain", str(checkpoint), str(photos), "-o", str(tmp_path / "out"),
                 "--device", "cpu", "--tile", "16"]) == 0
    model = load_model(checkpoint)
    with torch.no_grad():
        x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
        expected = model(x)[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    written = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    # tiles of 16 px with the receptive-field margin give the whole-image result
    assert np.abs(written.astype(int) - expected.astype(int)).max() <= 1
    assert (tmp_path / "out" / "b.png").is_file()


def test_never_writes_over_the_inputs(checkpoint: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    write_rgb(photos / "a.png")
    before = (photos / "a.png").read_bytes()
    assert main(["derain", str(checkpoint), str(photos), "-o", str(photos)]) == 1
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert (photos / "a.png").read_bytes() == before


def test_existing_outputs_need_overwrite(checkpoint: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_rgb(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    assert main(["derain", str(checkpoint), str(tmp_path / "a.png"), "-o", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() == b"mine"
    assert main(["derain", str(checkpoint), str(tmp_path / "a.png"), "-o", str(out),
                 "--overwrite"]) == 0
    assert (out / "a.png").read_bytes() != b"mine"


def test_same_stem_different_extensions_keep_both_results(checkpoint: Path,
                                                          tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_rgb(photos / "dup.png")
    Image.fromarray(write_rgb(tmp_path / "x.png", seed=3)).save(photos / "dup.jpg")
    assert main(["derain", str(checkpoint), str(photos), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dup_jpg.png", "dup_png.png"]


def test_unreadable_files_are_reported_after_the_rest(checkpoint: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    (photos).mkdir()
    (photos / "a_broken.png").write_bytes(b"not an image")
    (photos / "b_empty.jpg").write_bytes(b"")
    write_rgb(photos / "c_good.png")
    assert main(["derain", str(checkpoint), str(photos), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "2 of 3 image(s) failed" in err and "a_broken.png" in err and "b_empty.jpg" in err
    assert (tmp_path / "out" / "c_good.png").is_file()


def test_keeps_alpha_grayscale_and_turns_phone_photos_upright(checkpoint: Path,
                                                              tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    alpha = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    rgba = np.dstack([rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), alpha])
    Image.fromarray(rgba, "RGBA").save(photos / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8), "L").save(photos / "gray.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(
        photos / "phone.jpg", exif=exif)
    assert main(["derain", str(checkpoint), str(photos), "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    with Image.open(out / "rgba.png") as image:
        assert image.mode == "RGBA"
        assert np.array_equal(np.asarray(image.getchannel("A")), alpha)
    with Image.open(out / "gray.png") as image:
        assert image.mode == "L"
    with Image.open(out / "phone.png") as image:
        assert image.size == (12, 10)  # stored 10 wide x 12 high, displayed 12 wide x 10 high


def test_broken_weights_stop_with_a_message(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from rainkit.nn import BaselineNet

    model = BaselineNet(channels=4, num_blocks=1)
    state = model.state_dict()
    state["tail.weight"][0, 0, 0, 0] = float("nan")
    torch.save({"format": 1, "model_name": "baseline",
                "model_kwargs": {"channels": 4, "num_blocks": 1}, "model": state},
               tmp_path / "nan.pt")
    write_rgb(tmp_path / "a.png")
    assert main(["derain", str(tmp_path / "nan.pt"), str(tmp_path / "a.png"),
                 "-o", str(tmp_path / "out")]) == 1
    assert "non-finite weights" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unknown_model_lists_what_is_known(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    write_rgb(tmp_path / "a.png")
    assert main(["derain", "no-such-model", str(tmp_path / "a.png")]) == 1
    assert "no such file, and not a published checkpoint" in capsys.readouterr().err


def test_the_console_script_runs_as_a_module(checkpoint: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "a.png")
    result = subprocess.run([sys.executable, "-m", "rainkit", "derain", str(checkpoint),
                             str(tmp_path / "a.png"), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "a.png").is_file()


def test_an_authors_file_is_recognised_by_its_keys(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from rainkit.nn import build_model

    torch.manual_seed(0)
    net = build_model("prn", stages=2)  # a small network of the PReNet family
    # saved as the authors' scripts did: a DataParallel state dict with "module." keys
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "net.pth")
    array = write_rgb(tmp_path / "a.png", 16, 18)
    assert main(["derain", str(tmp_path / "net.pth"), str(tmp_path / "a.png"),
                 "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "notice:" in captured.err and "prn" in captured.err
    assert "load_pretrained(" not in captured.err  # advice in the command line's terms
    with torch.no_grad():
        x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
        expected = net.eval()(x)[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    written = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert np.abs(written.astype(int) - expected.numpy().astype(int)).max() <= 1


def test_scale_option(checkpoint: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    write_rgb(tmp_path / "a.png", 40, 60)
    for scale in ("auto", "2"):
        assert main(["derain", str(checkpoint), str(tmp_path / "a.png"), "--scale", scale,
                     "-o", str(tmp_path / f"out-{scale}")]) == 0
        with Image.open(tmp_path / f"out-{scale}" / "a.png") as image:
            assert image.size == (60, 40)  # full resolution whatever the scale
    with pytest.raises(SystemExit) as exit_info:
        main(["derain", str(checkpoint), str(tmp_path / "a.png"), "--scale", "0.5"])
    assert exit_info.value.code == 2
    assert "expected 'auto' or a number >= 1, got '0.5'" in capsys.readouterr().err


def test_summary_and_no_margin_probe_for_small_images(checkpoint: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    import rainkit.inference

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the receptive field was measured for images that fit one tile")

    monkeypatch.setattr(rainkit.inference, "tile_margin", fail)
    for i in range(2):
        write_rgb(tmp_path / "photos" / f"{i}.png", seed=i)
    assert main(["derain", str(checkpoint), str(tmp_path / "photos"),
                 "-o", str(tmp_path / "out")]) == 0
    assert "derained 2 of 2 image(s)" in capsys.readouterr().out


@pytest.mark.parametrize("family", sorted(rainkit.nn.FAMILIES))
def test_tiling_note_names_the_family_and_its_reason_once(family: str) -> None:
    from rainkit.cli.derain import _tiling_note

    info = rainkit.nn.FAMILIES[family]
    loaded = SimpleNamespace(entry=None, model_name=info.models[0])
    note = _tiling_note(loaded)
    if info.tiling == "exact":
        assert note == ""
    else:
        assert note.startswith(f"{family}: tiles are approximate: ")
        assert note.count("approximate") == 1 + info.tiling.count("approximate") - \
            info.tiling.startswith("approximate: ")
        assert "--tile 0" in note

"""``rainkit evaluate`` and ``rainkit score``: one table from a model or from its saved outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rainkit.cli import main
from rainkit.metrics import psnr, ssim

from .conftest import write_rgb


@pytest.fixture
def test_set(tmp_path: Path) -> Path:
    root = tmp_path / "Rain100L"
    for i in range(1, 4):
        clean = write_rgb(root / "norain" / f"norain-{i:03d}.png", 24, 28, seed=i)
        rainy = clean.copy()
        rainy[:, 3 * i] = 250
        (root / "rain").mkdir(exist_ok=True)
        Image.fromarray(rainy).save(root / "rain" / f"rain-{i:03d}.png")
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_then_score_give_the_same_numbers(checkpoint: Path, test_set: Path,
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    assert main(["evaluate", str(checkpoint), str(test_set), "-o", str(out),
                 "--convention", "matlab-y-uint8", "--lpips_weights", "none",
                 "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    assert "Y-PSNR" in table and "3 images" in table
    evaluated = _rows(out / "scores.csv")
    assert [r["name"] for r in evaluated] == ["rain-001", "rain-002", "rain-003"]
    # the saved 8-bit outputs score as the CSV says (the images are what was scored)
    for row in evaluated:
        result = np.asarray(Image.open(out / f"{row['name']}.png"))
        truth = np.asarray(Image.open(test_set / "norain" / f"no{row['name']}.png"))
        assert float(row["psnr_y"]) == pytest.approx(
            psnr(result, truth, convention="matlab-y-uint8"), abs=1e-5)
        assert float(row["ssim_y"]) == pytest.approx(
            ssim(result, truth, convention="matlab-y-uint8"), abs=1e-6)
    scored_csv = tmp_path / "scored.csv"
    assert main(["score", str(out), str(test_set), "--convention", "matlab-y-uint8",
                 "--csv", str(scored_csv), "--lpips_weights", "none"]) == 0
    scored = _rows(scored_csv)
    for a, b in zip(evaluated, scored, strict=True):
        assert a["name"] == b["name"]
        for key in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-9)


def test_conventions_change_the_score(checkpoint: Path, test_set: Path, tmp_path: Path) -> None:
    values = {}
    for convention in ("matlab-y", "rgb"):
        path = tmp_path / f"{convention}.csv"
        assert main(["evaluate", str(checkpoint), str(test_set), "--convention", convention,
                     "--csv", str(path), "--lpips_weights", "none"]) == 0
        values[convention] = [float(r["psnr_y"]) for r in _rows(path)]
    assert values["matlab-y"] != values["rgb"]


def test_score_reports_missing_results(test_set: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "partial"
    results.mkdir()
    write_rgb(results / "rain-001.png", 24, 28)
    assert main(["score", str(results), str(test_set), "--lpips_weights", "none"]) == 1
    assert "2 of 3 result(s) missing" in capsys.readouterr().err


def test_existing_csv_is_not_replaced(checkpoint: Path, test_set: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("mine")
    assert main(["evaluate", str(checkpoint), str(test_set), "--csv", str(path),
                 "--lpips_weights", "none"]) == 1
    assert "--overwrite" in capsys.readouterr().err and path.read_text() == "mine"


def test_unknown_layout_is_explained(checkpoint: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "odd").mkdir()
    write_rgb(tmp_path / "odd" / "x.png")
    assert main(["evaluate", str(checkpoint), str(tmp_path / "odd"),
                 "--lpips_weights", "none"]) == 1
    assert "layout" in capsys.readouterr().err


def test_score_reads_16_bit_results_and_names_a_broken_one(test_set: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    # results read like the datasets (rainkit.data.decode_image): a 16-bit PNG holding the
    # ground truth exactly (v * 257) scores as the 8-bit ground truth itself
    results = tmp_path / "results16"
    results.mkdir()
    for i in range(1, 4):
        clean = np.asarray(Image.open(test_set / "norain" / f"norain-{i:03d}.png"))
        Image.fromarray(clean[..., 0].astype(np.uint16) * 257).save(results / f"rain-{i:03d}.png")
        gray = np.repeat(clean[..., :1], 3, axis=2)  # the 16-bit result is grayscale
        Image.fromarray(gray).save(test_set / "norain" / f"norain-{i:03d}.png")
    csv_path = tmp_path / "scores.csv"
    assert main(["score", str(results), str(test_set), "--convention", "rgb", "--lpips_weights",
                 "none", "--csv", str(csv_path)]) == 0
    assert all(row["psnr_rgb"] == "inf" for row in _rows(csv_path))
    (results / "rain-002.png").write_bytes(b"not a png")
    assert main(["score", str(results), str(test_set), "--lpips_weights", "none"]) == 1
    assert "rain-002" in capsys.readouterr().err

"""``rainkit evaluate`` and ``rainkit score``: one table from a model or from its saved outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
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
    assert "Y-PSNR" in table and "3 pairs" in table
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
        for key in ("psnr_y", "ssim_y", "psnr", "ssim"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-9)


def test_conventions_change_the_score(checkpoint: Path, test_set: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    values = {}
    for convention, key in (("matlab-y", "psnr_y"), ("rgb", "psnr")):
        path = tmp_path / f"{convention}.csv"
        assert main(["evaluate", str(checkpoint), str(test_set), "--convention", convention,
                     "--csv", str(path), "--lpips_weights", "none"]) == 0
        values[convention] = [float(r[key]) for r in _rows(path)]
    assert values["matlab-y"] != values["rgb"]
    # RGB scores are never labelled or stored as Y scores
    assert "psnr_y" not in _rows(tmp_path / "rgb.csv")[0]
    table = capsys.readouterr().out.split("convention: rgb")[1]
    assert "Y-PSNR" not in table and "PSNR" in table


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
    assert all(row["psnr"] == "inf" for row in _rows(csv_path))
    (results / "rain-002.png").write_bytes(b"not a png")
    assert main(["score", str(results), str(test_set), "--lpips_weights", "none"]) == 1
    assert "rain-002" in capsys.readouterr().err


# -- test sets, protocols, published figures, pairing, conventions ------------------------------

def test_misspelled_test_set_is_an_error_with_suggestions(
        checkpoint: Path, test_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(checkpoint), str(test_set), "--test_set", "Rain100LL",
                 "--lpips_weights", "none"]) == 1
    assert "did you mean 'Rain100L'" in capsys.readouterr().err


def test_names_the_test_set_and_warns_about_its_size(
        checkpoint: Path, test_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(checkpoint), str(test_set), "--lpips_weights", "none"]) == 0
    captured = capsys.readouterr()
    assert "test set: Rain100L (protocol(s) A" in captured.out  # guessed from the folder name
    # 3 pairs is not Rain100L's 100: said once, in the summary
    assert "holds 3 pairs, but Rain100L has 100" not in captured.err
    assert captured.out.count("holds 3 pairs, but Rain100L has 100") == 1


def test_published_figure_only_when_it_compares(test_set: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import rainkit.cli.evaluate as evaluate
    from rainkit.nn import PRETRAINED

    entry = PRETRAINED["prenet-rain100l"]  # published: Rain100L, protocol A, prenet-y
    from rainkit.data import find_test_set
    from rainkit.metrics import CONVENTIONS

    prenet_y, rgb = CONVENTIONS["prenet-y"], CONVENTIONS["rgb"]
    rain100l = find_test_set("Rain100L")
    figure, reasons = evaluate._published(entry, rain100l, prenet_y, 100, False)
    assert figure is entry.published[0] and reasons == []
    figure, reasons = evaluate._published(entry, rain100l, rgb, 100, False)
    assert figure is None and any("convention" in r for r in reasons)
    figure, reasons = evaluate._published(entry, rain100l, prenet_y, 3, False)
    assert figure is None and reasons  # a subset of the test set
    figure, reasons = evaluate._published(entry, find_test_set("Rain200L"), prenet_y, 200, False)
    assert figure is None and reasons == ["prenet-rain100l has no published figure on Rain200L"]


def test_score_pairs_by_sorted_order(test_set: Path, tmp_path: Path) -> None:
    results = tmp_path / "renamed"
    results.mkdir()
    for i in range(1, 4):  # results named otherwise: out_1 <-> norain-001, ...
        clean = np.asarray(Image.open(test_set / "norain" / f"norain-{i:03d}.png"))
        Image.fromarray(clean).save(results / f"out_{i}.png")
    csv_path = tmp_path / "scores.csv"
    assert main(["score", str(results), str(test_set), "--lpips_weights", "none"]) == 1
    assert main(["score", str(results), str(test_set), "--pair-by", "sorted", "--lpips_weights",
                 "none", "--csv", str(csv_path)]) == 0
    assert all(row["psnr_y"] == "inf" for row in _rows(csv_path))


def test_jpeg_step_is_applied_before_scoring(checkpoint: Path, test_set: Path,
                                             tmp_path: Path) -> None:
    from rainkit.data import jpeg_roundtrip

    plain, jpeg = tmp_path / "plain", tmp_path / "jpeg"
    for out, extra in ((plain, []), (jpeg, ["--jpeg", "95"])):
        assert main(["evaluate", str(checkpoint), str(test_set), "-o", str(out),
                     "--lpips_weights", "none", *extra]) == 0
    levels = torch.from_numpy(np.array(Image.open(plain / "rain-001.png"))).permute(2, 0, 1)
    stored = np.asarray(Image.open(jpeg / "rain-001.png"))
    # the scored image is the 8-bit output stored as JPEG quality 95 and read back
    assert np.array_equal(stored, jpeg_roundtrip(levels, 95).permute(1, 2, 0).numpy())
    assert _rows(plain / "scores.csv")[0]["psnr_y"] != _rows(jpeg / "scores.csv")[0]["psnr_y"]


def test_crop_border_for_basicsr(checkpoint: Path, test_set: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    values = []
    for border in ("0", "4"):
        path = tmp_path / f"{border}.csv"
        assert main(["evaluate", str(checkpoint), str(test_set), "--convention", "basicsr-y",
                     "--crop-border", border, "--csv", str(path), "--lpips_weights",
                     "none"]) == 0
        values.append(_rows(path)[0]["psnr_y"])
    assert values[0] != values[1]
    # prenet-y fixes its border: an explicit other value is an error, in the CLI's terms
    assert main(["evaluate", str(checkpoint), str(test_set), "--convention", "prenet-y",
                 "--crop_border", "4", "--lpips_weights", "none"]) == 1
    assert "--crop_border" in capsys.readouterr().err


def test_outputs_are_quantized_as_the_convention_says(checkpoint: Path, test_set: Path,
                                                      tmp_path: Path) -> None:
    from rainkit.checkpoint import load_model
    from rainkit.inference import read_photo

    model = load_model(checkpoint)
    out = tmp_path / "out"
    assert main(["evaluate", str(checkpoint), str(test_set), "-o", str(out),
                 "--convention", "prenet-y", "--lpips_weights", "none"]) == 0
    with torch.no_grad():
        y = model(read_photo(test_set / "rain" / "rain-001.png").rgb[None])[0]
    # PReNet's test script truncates (np.uint8(255 * out)); computed here in numpy
    expected = np.floor(np.clip(y.double().numpy(), 0, 1) * 255).astype(np.uint8)
    written = np.asarray(Image.open(out / "rain-001.png")).transpose(2, 0, 1)
    assert np.array_equal(written, expected)


def test_lpips_notice_once_in_command_line_terms(checkpoint: Path, test_set: Path,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))  # no AlexNet file there
    assert main(["evaluate", str(checkpoint), str(test_set)]) == 0
    err = capsys.readouterr().err
    assert err.count("LPIPS skipped") == 1
    assert "--lpips_weights none" in err and "weights=None" not in err


def test_help_and_errors_speak_the_command_line(checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    score_help = capsys.readouterr().out
    assert "--output" not in score_help and "--pair_by" in score_help
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    evaluate_help = " ".join(capsys.readouterr().out.split())
    assert "prenet-y: truncated to 8 bits" in evaluate_help
    assert "mprnet-y: rounded to 8 bits" in evaluate_help
    assert "rgb: scored as floats" in evaluate_help
    (tmp_path / "odd" / "sub").mkdir(parents=True)
    assert main(["score", str(tmp_path / "odd"), str(tmp_path / "odd")]) == 1
    err = capsys.readouterr().err
    assert "layout=" not in err and "pair_by=" not in err


def test_no_ground_truth_scores_with_no_reference_metrics(
        checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import rainkit.metrics.registry as registry
    from rainkit.metrics import METRICS, register_metric

    if not any(not m.reference for m in METRICS.values()):  # until NIQE/BRISQUE are in
        register_metric("mean_level", reference=False, label="MEAN",
                        higher_is_better=False)(lambda image: image.mean(dim=(1, 2, 3)))
        monkeypatch.setattr(registry, "_METRICS", registry._METRICS)
        request_cleanup = True
    else:
        request_cleanup = False
    try:
        photos = tmp_path / "photos"
        for i in range(2):
            write_rgb(photos / f"p{i}.png", 100, 104, seed=i)  # NIQE needs >= 96 px
        csv_path = tmp_path / "nr.csv"
        assert main(["evaluate", str(checkpoint), str(photos), "--csv", str(csv_path)]) == 0
        captured = capsys.readouterr()
        assert "no ground truth" in captured.err and "2 images" in captured.out
        blind = [n for n, m in METRICS.items() if not m.reference]
        rows = _rows(csv_path)
        assert [r["name"] for r in rows] == ["p0", "p1"] and all(k in rows[0] for k in blind)
        assert main(["score", str(photos)]) == 0
        assert "2 images" in capsys.readouterr().out
    finally:
        if request_cleanup:
            registry._METRICS.pop("mean_level", None)


def test_a_metric_with_nothing_to_measure_is_left_out_of_the_mean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rainkit.metrics import niqe

    photos = tmp_path / "photos"
    textured = write_rgb(photos / "p0.png", 100, 104, seed=0)  # NIQE needs >= 96 px
    Image.fromarray(np.full((100, 104, 3), 128, np.uint8)).save(photos / "p1.png")  # NaN NIQE
    csv_path = tmp_path / "nr.csv"
    assert main(["score", str(photos), "--csv", str(csv_path)]) == 0
    captured = capsys.readouterr()
    assert "niqe: 1 of 2 image(s) gave no value" in captured.err
    rows = {r["name"]: r for r in _rows(csv_path)}
    assert rows["p1"]["niqe"] == "nan"  # the CSV keeps what was measured
    expected = float(niqe(torch.from_numpy(textured).permute(2, 0, 1)[None] / 255.0))
    assert f"{expected:.2f}" in captured.out  # the mean is p0's alone

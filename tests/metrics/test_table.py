"""rainkit.metrics.ScoreTable: one preparation per convention, one key scheme, plug-in metrics.

Reference values: scikit-image (PSNR, Gaussian SSIM) and hand computations; the convention
scripts themselves are checked in test_conventions.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rainkit.metrics._prepare as prepare_module
from rainkit.metrics import (
    CONVENTIONS,
    METRICS,
    ScoreTable,
    format_scores,
    key_for,
    mean_scores,
    psnr,
    register_metric,
    rgb_to_y,
    score,
    ssim,
)
from rainkit.metrics.registry import unregister_metric

skimage_metrics = pytest.importorskip("skimage.metrics")


def _pair(seed: int = 0, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = rng.integers(0, 256, (size, size + 3, 3), dtype=np.uint8)
    noisy = np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    return noisy, clean


def test_keys_labels_and_values_match_the_single_metrics():
    noisy, clean = _pair()
    table = ScoreTable(["prenet-y", "rgb"])
    assert table.keys == ("psnr_y", "ssim_y", "psnr", "ssim")
    assert [c.label for c in table.columns] == ["Y-PSNR", "Y-SSIM", "PSNR", "SSIM"]
    assert [c.convention.name for c in table.columns] == ["prenet-y"] * 2 + ["rgb"] * 2
    row = table(noisy, clean)
    assert row["psnr"] == pytest.approx(skimage_metrics.peak_signal_noise_ratio(clean, noisy),
                                        abs=1e-10)
    assert row["ssim"] == pytest.approx(skimage_metrics.structural_similarity(
        noisy, clean, channel_axis=-1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255), abs=1e-10)
    assert row["psnr_y"] == psnr(noisy, clean, convention="prenet-y")
    assert row["ssim_y"] == ssim(noisy, clean, convention="prenet-y")
    # an RGB convention alone gives RGB keys only: no RGB number under a Y name
    assert ScoreTable(["rgb"]).keys == ("psnr", "ssim")
    assert ScoreTable(["spanet-rgb"]).keys == ("psnr", "ssim")
    assert key_for("ssim", CONVENTIONS["matlab-y"]) == "ssim_y"


def test_each_image_is_converted_once_and_prepared_once_per_convention(monkeypatch):
    calls = {"to_tensors": 0, "apply_options": 0}
    for name in calls:
        original = getattr(prepare_module, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr("rainkit.metrics.table." + name, counted)
    noisy, clean = _pair()
    ScoreTable(["mprnet-y", "rgb"])(noisy, clean)
    assert calls == {"to_tensors": 1, "apply_options": 2}


def test_tensors_batches_devices_and_mixed_precision(device):
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 20, 22, generator=g, dtype=torch.float64)
    out = (clean + 0.03 * torch.randn(clean.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    row = ScoreTable(["basicsr-y", "rgb"], crop_border=2)(out.to(device), clean.to(device))
    assert all(v.shape == (2,) and v.device.type == device.type for v in row.values())
    assert torch.equal(row["psnr_y"].cpu(), psnr(out, clean, convention="basicsr-y",
                                                 crop_border=2, reduction="none"))
    assert torch.equal(row["psnr"].cpu(), psnr(out, clean, reduction="none"))  # rgb: no crop
    # a float32 output against a float64 reference: accepted, computed in float64
    mixed = ScoreTable(["rgb"])(out.float(), clean)
    assert mixed["psnr"].dtype == torch.float64
    assert mixed["psnr"] == pytest.approx(psnr(out.float().double(), clean, reduction="none"))
    # float32 and float64 numpy arrays too (a float32 network output, a float64 reference)
    a, b = out[0].permute(1, 2, 0).numpy(), clean[0].permute(1, 2, 0).numpy()
    assert ScoreTable(["rgb"])(a.astype(np.float32), b)["psnr"] == pytest.approx(
        psnr(a.astype(np.float32).astype(np.float64), b), abs=1e-12)
    with pytest.raises(TypeError, match="same dtype \\(or both be floating\\)"):
        ScoreTable(["rgb"])((a * 255).astype(np.uint8), b)


def test_score_is_the_one_convention_table():
    noisy, clean = _pair(3)
    for name in ("prenet-y", "mprnet-y", "rgb", "spanet-rgb"):
        row = ScoreTable([name])(noisy, clean)
        got = score(noisy, clean, name)
        assert got == {"psnr": row[key_for("psnr", CONVENTIONS[name])],
                       "ssim": row[key_for("ssim", CONVENTIONS[name])]}


def test_a_registered_full_reference_metric_plugs_in_without_editing_callers():
    @register_metric("max_abs_test", label="MAX", higher_is_better=False)
    def max_abs(pair):
        return (pair.input - pair.target).abs().amax(dim=(1, 2, 3)) / pair.data_range

    try:
        table = ScoreTable(["mprnet-y", "rgb"], metrics=["psnr", "max_abs_test"])
        assert table.keys == ("psnr_y", "max_abs_test_y", "psnr", "max_abs_test")
        black, white = np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 255, np.uint8)
        row = table(white, black)
        assert row["max_abs_test"] == 1.0  # RGB: 255 / 255
        assert row["max_abs_test_y"] == pytest.approx((235 - 16) / 255)  # rounded Y
        assert format_scores(row, table).endswith("PSNR 0.00 dB, MAX 1.0000")
        with pytest.raises(ValueError, match="registered already"):
            register_metric("max_abs_test")(max_abs)
    finally:
        unregister_metric("max_abs_test")


def test_a_no_reference_metric_plugs_in_and_scores_results_without_ground_truth():
    seen = []

    @register_metric("brightness_test", reference=False, label="BRIGHT", decimals=3)
    def brightness(image):
        seen.append((tuple(image.shape), image.dtype, float(image.max())))
        return image.mean(dim=(1, 2, 3))

    try:
        table = ScoreTable(["rgb"], no_reference=["brightness_test"])
        assert table.keys == ("psnr", "ssim", "brightness_test")
        noisy, clean = _pair()
        row = table(noisy, clean)
        assert row["brightness_test"] == pytest.approx(noisy.mean() / 255)
        assert seen[-1][:2] == ((1, 3, 24, 27), torch.float64) and seen[-1][2] <= 1.0
        blind = ScoreTable([], no_reference=["brightness_test"])
        assert not blind.needs_reference
        assert blind(noisy) == {"brightness_test": pytest.approx(noisy.mean() / 255)}
        assert blind(torch.full((2, 3, 8, 8), 0.25))["brightness_test"].tolist() == [0.25] * 2
        with pytest.raises(ValueError, match="target is needed"):
            table(noisy)
        with pytest.raises(ValueError, match="no-reference metric must be one of "
                                             ".*'brightness_test'.*got 'psnr'"):
            ScoreTable([], no_reference=["psnr"])
    finally:
        unregister_metric("brightness_test")
    assert "brightness_test" not in METRICS


def test_lpips_column_on_its_device_with_a_stand_in_module():
    class MeanDifference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()), requires_grad=False)

        def forward(self, x, y):
            return (x - y).abs().mean(dim=(1, 2, 3)) * self.scale

    noisy, clean = _pair()
    table = ScoreTable(["prenet-y", "rgb"], lpips=MeanDifference())
    assert table.keys[-1] == "lpips" and table.columns[-1].label == "LPIPS"
    row = table(noisy, clean)
    assert row["lpips"] == pytest.approx(np.abs(noisy / 255 - clean / 255).mean())


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((["prenet-y", "mprnet-y"],), {}, ValueError,
         "conventions 'prenet-y' and 'mprnet-y' would both write the key 'psnr_y'"),
        ((["rgb", "spanet-rgb"],), {}, ValueError, "would both write the key 'psnr'"),
        ((["prenet"],), {}, ValueError, "convention must be one of"),
        (("rgb",), {}, TypeError, "conventions must be a sequence of names, got str"),
        ((["rgb"],), {"metrics": ["niqe_missing"]}, ValueError,
         "full-reference metric must be one of 'psnr', 'ssim'"),
        ((["mprnet-y"],), {"crop_border": 4}, ValueError, "contradicts convention 'mprnet-y'"),
        ((["rgb"],), {"quantize": "ceil"}, ValueError, "quantize must be None or one of"),
        (([],), {}, ValueError, "nothing to compute"),
        ((["rgb"],), {"lpips": "alex"}, TypeError, "lpips must be an LPIPS module"),
    ],
)
def test_bad_options_fail_at_construction(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ScoreTable(*args, **kwargs)


def test_non_finite_inputs_are_refused_with_their_count():
    noisy, clean = _pair()
    bad = noisy / 255.0
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="input must be finite, got 1 NaN and 0 inf"):
        ScoreTable(["rgb"])(bad, clean / 255.0)
    with pytest.raises(ValueError, match="target must be finite, got 0 NaN and 1 inf"):
        target = torch.zeros(3, 16, 16)
        target[1, 2, 3] = math.inf
        ScoreTable(["rgb"])(torch.zeros(3, 16, 16), target)
    # numpy inputs to psnr / ssim return numbers: checked there too
    with pytest.raises(ValueError, match="input must be finite"):
        psnr(bad, clean / 255.0)
    # tensors inside training steps are not checked (no device synchronisation): NaN
    # propagates to that image only, as in rgb_to_y
    x = torch.rand(2, 3, 16, 16)
    y = x.clone()
    y[1, 0, 3, 3] = math.nan
    values = psnr(y, x, reduction="none")
    assert math.isinf(values[0]) and math.isnan(values[1])
    luma = rgb_to_y(y)
    assert torch.isnan(luma[1, 0, 3, 3]) and torch.isnan(luma).sum() == 1


def test_format_scores_and_mean_scores():
    row = {"psnr_y": 28.9, "ssim_y": 0.889, "psnr": 27.314, "ssim": 0.87123, "lpips": 0.12345}
    assert format_scores(row) == ("Y-PSNR 28.90 dB, Y-SSIM 0.8890, PSNR 27.31 dB, "
                                  "SSIM 0.8712, LPIPS 0.1235")
    table = ScoreTable(["rgb", "prenet-y"])
    assert format_scores(row, table).startswith("PSNR 27.31 dB, SSIM 0.8712, Y-PSNR")
    assert format_scores({"custom": 1.23456}) == "custom 1.2346"
    with pytest.raises(TypeError, match=r"scores\['psnr'\] must be a real number"):
        format_scores({"psnr": "27"})
    assert mean_scores([{"psnr": 30.0, "ssim": 0.5}, {"psnr": 32.0, "ssim": 0.7}]) == {
        "psnr": 31.0, "ssim": pytest.approx(0.6)}
    assert mean_scores([]) == {}
    with pytest.raises(ValueError, match=r"rows\[1\] lacks \['ssim'\]"):
        mean_scores([{"psnr": 1.0, "ssim": 1.0}, {"psnr": 1.0}])


def test_key_for_takes_a_convention_or_its_name():
    assert key_for("psnr", "prenet-y") == key_for("psnr", CONVENTIONS["prenet-y"]) == "psnr_y"
    assert key_for("ssim", "rgb") == key_for("ssim", None) == "ssim"


@pytest.mark.parametrize(
    ("metric", "convention", "error", "match"),
    [
        (3, None, TypeError, "metric must be a metric's name .*got int 3"),
        (None, None, TypeError, "metric must be a metric's name .*got NoneType"),
        ("", None, ValueError, "metric must be a metric's name such as 'psnr', got ''"),
        ("psnr", 3, TypeError, "convention must be a str .* or a ScoringConvention, got int"),
        ("psnr", ["rgb"], TypeError, "convention must be a str .*got list"),
        ("psnr", "prenet", ValueError, "convention must be one of"),
    ],
)
def test_key_for_bad_input(metric, convention, error, match):
    with pytest.raises(error, match=match):
        key_for(metric, convention)


@pytest.mark.parametrize("table", [3, "prenet-y", ["rgb"]])
def test_format_scores_refuses_a_table_that_is_not_one(table):
    with pytest.raises(TypeError, match="table must be a ScoreTable or None, got"):
        format_scores({"psnr": 27.3}, table)


def test_mean_scores_accepts_iterables_numpy_numbers_tensors_and_infinity():
    rows = ({"psnr": v, "ssim": 0.5} for v in (np.float32(30.0), torch.tensor([32.0])))
    assert mean_scores(rows) == {"psnr": 31.0, "ssim": 0.5}
    assert mean_scores([{"psnr": math.inf}, {"psnr": 30}]) == {"psnr": math.inf}


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        (None, TypeError, "rows must be an iterable of mappings .*got NoneType"),
        (3, TypeError, "rows must be an iterable of mappings .*got int"),
        ("ab", TypeError, "rows must be an iterable of mappings .*got str"),
        ({"psnr": 1.0}, TypeError, "rows must be an iterable of mappings .*got dict"),
        ([1], TypeError, r"rows\[0\] must be a mapping of key to value, got int"),
        ([{"psnr": 1.0}, None], TypeError, r"rows\[1\] must be a mapping"),
        ([{"psnr": "27"}], TypeError, r"rows\[0\]\['psnr'\] must be a real number, got str"),
        ([{"psnr": True}], TypeError, r"rows\[0\]\['psnr'\] must be a real number, got bool"),
        ([{"psnr": torch.zeros(2)}], TypeError, r"rows\[0\]\['psnr'\] must be a real number"),
        ([{"psnr": 1.0}, {"psnr": math.nan}], ValueError, r"rows\[1\]\['psnr'\] is NaN"),
        ([{"psnr": 1.0}, {"ssim": 1.0}], ValueError, r"rows\[1\] lacks \['psnr'\]"),
    ],
)
def test_mean_scores_bad_rows(rows, error, match):
    with pytest.raises(error, match=match):
        mean_scores(rows)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"no_reference": ["bogus"]}, "no_reference must hold names of no-reference metrics"),
        ({"metrics": ["bogus"]}, "metrics must hold names of full-reference metrics"),
    ],
)
def test_unknown_metric_names_name_their_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScoreTable(["rgb"], **kwargs)


def test_a_data_range_float32_cannot_hold_is_refused_not_inf_or_nan():
    # 1e30 snapped every [0, 1] pixel to level 0 under prenet-y (PSNR inf) and overflowed
    # SSIM's constants (NaN); refused now, for the table and score()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"data_range=1e\+30 .*float32"):
        ScoreTable(data_range=1e30)(x, y)
    with pytest.raises(ValueError, match=r"data_range=1e\+30 .*float32"):
        score(x, y, "prenet-y", data_range=1e30)
    with pytest.raises(ValueError, match="data_range=1e\\+200 is too large for float64"):
        ScoreTable(data_range=1e200)

"""rainkit.training: Validator, centre_crop, format_scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from rainkit.data import read_image
from rainkit.training import Validator, centre_crop, format_scores


# --------------------------------------------------------------------------- validation
def test_centre_crop() -> None:
    image = torch.arange(5 * 8.0).reshape(1, 5, 8)
    assert torch.equal(centre_crop(image, 3), image[:, 1:4, 2:5])
    assert centre_crop(image, 100) is not None and centre_crop(image, 100).shape == (1, 5, 8)
    assert centre_crop(image, None) is image
    with pytest.raises(ValueError, match="size must be >= 1"):
        centre_crop(image, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        centre_crop(torch.zeros(4), 2)
    with pytest.raises(TypeError, match="image must be a torch.Tensor"):
        centre_crop(np.zeros((4, 4)), 2)  # type: ignore[arg-type]


def _y(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of MATLAB's rgb2ycbcr on [0, 1] RGB, in [16, 235] / 255 (published formula)."""
    return (16.0 + 65.481 * image[..., 0] + 128.553 * image[..., 1]
            + 24.966 * image[..., 2]) / 255.0


def test_validator_scores_match_scikit_image(rng: np.random.Generator) -> None:
    clean = rng.random((2, 3, 40, 48))
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    pairs = [(torch.from_numpy(n).float(), torch.from_numpy(c).float(), f"p{i}")
             for i, (n, c) in enumerate(zip(noisy, clean))]
    scores, grids = Validator(pairs, max_size=32).score(lambda rainy: rainy, keep=1)
    assert sorted(scores) == ["psnr", "psnr_y", "ssim", "ssim_y"]
    assert [name for name, _ in grids] == ["p0"] and grids[0][1].shape == (3, 32, 96)
    expected: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_y": [], "ssim_y": []}
    for n, c in zip(noisy, clean):
        n, c = (np.float32(x[:, 4:36, 8:40]).transpose(1, 2, 0) for x in (n, c))  # centre crop
        expected["psnr"].append(peak_signal_noise_ratio(c, n, data_range=1.0))
        expected["psnr_y"].append(peak_signal_noise_ratio(_y(c), _y(n), data_range=1.0))
        # Wang et al. 2004: Gaussian window, sigma 1.5, sample covariance off
        options = {"data_range": 1.0, "gaussian_weights": True, "sigma": 1.5,
                   "use_sample_covariance": False}
        expected["ssim"].append(structural_similarity(c, n, channel_axis=2, **options))
        expected["ssim_y"].append(structural_similarity(_y(c), _y(n), **options))
    for name, values in expected.items():
        assert scores[name] == pytest.approx(np.mean(values), abs=2e-3), name


def test_validator_lpips_column_and_errors() -> None:
    class Half(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0],), 0.5)

    pair = (torch.rand(3, 16, 16), torch.rand(3, 16, 16), "a")
    validator = Validator([pair], lpips=Half())
    assert validator.names == ["psnr", "ssim", "psnr_y", "ssim_y", "lpips"]
    assert validator.score(lambda rainy: rainy)[0]["lpips"] == 0.5
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        Validator([(torch.rand(3, 8, 30), torch.rand(3, 8, 30), "small")]).score(lambda r: r)
    with pytest.raises(ValueError, match="max_size must be >= 11"):
        Validator([pair], max_size=8)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        Validator([pair], rank=2, world=2)
    with pytest.raises(TypeError, match="pairs must be a sequence"):
        Validator(iter([pair]))  # type: ignore[arg-type]


def test_score_saves_the_derained_images(tmp_path: Path) -> None:
    clean = torch.rand(2, 3, 20, 16, generator=torch.Generator().manual_seed(1))
    pairs = [(c.flip(-1), c, f"p{i}") for i, c in enumerate(clean)]
    Validator(pairs, max_size=12).score(lambda x: x.flip(-1) * 1.5, save_dir=tmp_path / "out")
    saved = read_image(tmp_path / "out" / "p1.png")
    expected = (centre_crop(clean[1], 12) * 1.5).clamp(0, 1)  # cropped and clamped like scores
    assert saved.shape == (3, 12, 12)
    assert (saved - expected).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit, rounded
    with pytest.raises(ValueError, match="keep must be >= 0"):
        Validator(pairs).score(lambda x: x, keep=-1)
    with pytest.raises(TypeError, match="save_dir must be a str or os.PathLike"):
        Validator(pairs).score(lambda x: x, save_dir=3)  # type: ignore[arg-type]


def test_format_scores() -> None:
    scores = {"psnr": 27.314, "ssim": 0.87123, "psnr_y": 28.9, "ssim_y": 0.889}
    assert format_scores(scores) == "PSNR 27.31 dB, SSIM 0.8712, Y-PSNR 28.90 dB, Y-SSIM 0.8890"
    assert format_scores({**scores, "lpips": 0.12345}).endswith(", LPIPS 0.1235")
    # an RGB validation convention has no Y scores: the line has what the scores hold
    assert format_scores({"psnr": 27.314, "ssim": 0.87123}) == "PSNR 27.31 dB, SSIM 0.8712"
    with pytest.raises(ValueError, match=r"scores lacks \['ssim'\]"):
        format_scores({k: v for k, v in scores.items() if k != "ssim"})
    with pytest.raises(TypeError, match="scores must be a mapping"):
        format_scores([1.0])  # type: ignore[arg-type]


def test_bad_pairs_derain_and_scores_give_clear_errors(tmp_path: Path) -> None:
    # found by tests/test_public_api_fuzz.py: unpacking errors, torch errors naming no argument,
    # and a mean of 0 over no pairs
    x, y = torch.rand(3, 16, 16), torch.rand(3, 16, 16)
    with pytest.raises(ValueError, match="pairs must hold at least one"):
        Validator([])
    with pytest.raises(TypeError, match="pairs must be a sequence"):
        Validator("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device must be a device such as"):
        Validator([(x, y, "p")], "bogus")
    with pytest.raises(TypeError, match="lpips must be an LPIPS module"):
        Validator([(x, y, "p")], lpips="alex")  # type: ignore[arg-type]
    bad = [((x, y), TypeError, r"pairs\[0\] must be a \(rainy, clean, name\) triple"),
           (((x * 255).byte(), y, "p"), TypeError, r"pairs\[0\] \('p'\): the rainy image"),
           ((x, y[:, :, :12], "p"), ValueError, r"pairs\[0\] \('p'\): the rainy and clean"),
           ((x[0], y[0], "p"), ValueError, r"pairs\[0\] \('p'\): the rainy image must have")]
    for pair, error, match in bad:
        with pytest.raises(error, match=match):
            Validator([pair]).score(lambda rainy: rainy)  # type: ignore[list-item]
    validator = Validator([(x, y, "p")])
    with pytest.raises(TypeError, match="derain must be a network or a function"):
        validator.score(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="derain must return the shape of its input"):
        validator.score(lambda rainy: rainy[..., :8, :])
    with pytest.raises(ValueError, match="save_dir must be a folder, got the file"):
        (tmp_path / "file").touch()
        validator.score(lambda rainy: rainy, save_dir=tmp_path / "file")
    with pytest.raises(TypeError, match="image must be a real tensor"):
        centre_crop(torch.zeros(3, 4, 4, dtype=torch.complex64), 2)
    with pytest.raises(ValueError, match="image must not be empty"):
        centre_crop(torch.zeros(3, 0, 4), 2)
    scores = {"psnr": 27.3, "ssim": 0.87, "psnr_y": 28.9, "ssim_y": 0.89}
    with pytest.raises(TypeError, match=r"scores\['ssim'\] must be a real number, got NoneType"):
        format_scores({**scores, "ssim": None})


def test_validator_takes_a_convention(rng: np.random.Generator) -> None:
    clean = torch.from_numpy(rng.random((3, 24, 28))).float()
    noisy = (clean + 0.05 * torch.from_numpy(rng.standard_normal((3, 24, 28))).float()).clamp(0, 1)
    pairs = [(noisy, clean, "p")]
    default = Validator(pairs)
    assert default.convention.name == "prenet-y" and default.table.keys == (
        "psnr", "ssim", "psnr_y", "ssim_y")
    # the Y scores follow the convention: MPRNet's rounds to 8 bits first
    rounded = Validator(pairs, convention="mprnet-y").score(lambda r: r)[0]
    unrounded = default.score(lambda r: r)[0]
    assert rounded["psnr"] == unrounded["psnr"] and rounded["psnr_y"] != unrounded["psnr_y"]
    from rainkit.metrics import psnr

    assert rounded["psnr_y"] == pytest.approx(
        psnr(noisy[None], clean[None], convention="mprnet-y").item(), abs=1e-9)
    # an RGB convention replaces the RGB scores and there are no Y scores
    spa = Validator(pairs, convention="spanet-rgb")
    assert spa.names == ["psnr", "ssim"]
    assert format_scores(spa.score(lambda r: r)[0]).startswith("PSNR ")
    with pytest.raises(ValueError, match="convention must be one of"):
        Validator(pairs, convention="matlab")

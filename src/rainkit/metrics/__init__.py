"""rainkit.metrics: PSNR, SSIM, MS-SSIM, LPIPS, NIQE, BRISQUE, luma, conventions, score tables."""

from rainkit.metrics.brisque import BRISQUE, brisque
from rainkit.metrics.color import rgb_to_y, rgb_to_ycbcr
from rainkit.metrics.conventions import (
    CONVENTION_ALIASES,
    CONVENTIONS,
    ScoringConvention,
    auto_downsample_factor,
)
from rainkit.metrics.lpips import LPIPS, lpips
from rainkit.metrics.ms_ssim import MS_SSIM, MS_SSIM_WEIGHTS, ms_ssim
from rainkit.metrics.niqe import NIQE, niqe
from rainkit.metrics.psnr import PSNR, psnr
from rainkit.metrics.registry import METRICS, Metric, PreparedPair, register_metric
from rainkit.metrics.score import score
from rainkit.metrics.ssim import SSIM, ssim
from rainkit.metrics.table import Column, ScoreTable, format_scores, key_for, mean_scores

__all__ = [
    "BRISQUE",
    "CONVENTIONS",
    "CONVENTION_ALIASES",
    "LPIPS",
    "METRICS",
    "MS_SSIM",
    "MS_SSIM_WEIGHTS",
    "NIQE",
    "PSNR",
    "SSIM",
    "Column",
    "Metric",
    "PreparedPair",
    "ScoreTable",
    "ScoringConvention",
    "auto_downsample_factor",
    "brisque",
    "format_scores",
    "key_for",
    "lpips",
    "mean_scores",
    "ms_ssim",
    "niqe",
    "psnr",
    "register_metric",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "score",
    "ssim",
]

"""rainkit.metrics: PSNR, SSIM, LPIPS, BT.601 luma and the scoring conventions of papers."""

from rainkit.metrics.color import rgb_to_y, rgb_to_ycbcr
from rainkit.metrics.conventions import CONVENTIONS, ScoringConvention
from rainkit.metrics.lpips import LPIPS, lpips
from rainkit.metrics.psnr import PSNR, psnr
from rainkit.metrics.score import score
from rainkit.metrics.ssim import SSIM, ssim

__all__ = [
    "CONVENTIONS",
    "LPIPS",
    "PSNR",
    "SSIM",
    "ScoringConvention",
    "lpips",
    "psnr",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "score",
    "ssim",
]

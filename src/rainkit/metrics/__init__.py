"""rainkit.metrics: PSNR, SSIM, MS-SSIM, LPIPS, luma and the scoring conventions of papers."""

from rainkit.metrics.color import rgb_to_y, rgb_to_ycbcr
from rainkit.metrics.conventions import CONVENTIONS, ScoringConvention
from rainkit.metrics.lpips import LPIPS, lpips
from rainkit.metrics.ms_ssim import MS_SSIM, MS_SSIM_WEIGHTS, ms_ssim
from rainkit.metrics.psnr import PSNR, psnr
from rainkit.metrics.score import score
from rainkit.metrics.ssim import SSIM, ssim

__all__ = [
    "CONVENTIONS",
    "LPIPS",
    "MS_SSIM",
    "MS_SSIM_WEIGHTS",
    "PSNR",
    "SSIM",
    "ScoringConvention",
    "lpips",
    "ms_ssim",
    "psnr",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "score",
    "ssim",
]

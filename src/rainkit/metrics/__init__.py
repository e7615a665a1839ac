"""rainkit.metrics: PSNR, SSIM, MS-SSIM, LPIPS and the BT.601 colour conversion they score on."""

from rainkit.metrics.color import rgb_to_y, rgb_to_ycbcr
from rainkit.metrics.lpips import LPIPS, lpips
from rainkit.metrics.ms_ssim import MS_SSIM, MS_SSIM_WEIGHTS, ms_ssim
from rainkit.metrics.psnr import PSNR, psnr
from rainkit.metrics.ssim import SSIM, ssim

__all__ = [
    "LPIPS",
    "MS_SSIM",
    "MS_SSIM_WEIGHTS",
    "PSNR",
    "SSIM",
    "lpips",
    "ms_ssim",
    "psnr",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "ssim",
]

"""rainkit.metrics: PSNR, SSIM, LPIPS and the BT.601 colour conversion they score on."""

from rainkit.metrics.color import rgb_to_y, rgb_to_ycbcr
from rainkit.metrics.lpips import LPIPS, lpips
from rainkit.metrics.psnr import PSNR, psnr
from rainkit.metrics.ssim import SSIM, ssim

__all__ = ["LPIPS", "PSNR", "SSIM", "lpips", "psnr", "rgb_to_y", "rgb_to_ycbcr", "ssim"]

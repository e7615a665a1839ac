"""rainkit.loss: pixel, SSIM, MS-SSIM, perceptual, style, contrastive losses; one VGG pass."""

from rainkit.loss.combined import CombinedLoss
from rainkit.loss.contrastive import (
    ContrastiveLoss,
    EasyContrastiveLoss,
    contrastive_loss,
    easy_contrastive_loss,
)
from rainkit.loss.feature import FeatureLoss, Features
from rainkit.loss.ms_ssim_loss import MSSSIMLoss, ms_ssim_loss
from rainkit.loss.perceptual import PerceptualLoss, perceptual_loss
from rainkit.loss.pixel import CharbonnierLoss, charbonnier_loss
from rainkit.loss.ssim_loss import SSIMLoss, ssim_loss
from rainkit.loss.style import StyleLoss, gram_matrix, style_loss
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures, min_input_size

__all__ = [
    "VGG19_LAYERS",
    "CharbonnierLoss",
    "CombinedLoss",
    "ContrastiveLoss",
    "EasyContrastiveLoss",
    "FeatureLoss",
    "Features",
    "MSSSIMLoss",
    "PerceptualLoss",
    "SSIMLoss",
    "StyleLoss",
    "VGGFeatures",
    "charbonnier_loss",
    "contrastive_loss",
    "easy_contrastive_loss",
    "gram_matrix",
    "min_input_size",
    "ms_ssim_loss",
    "perceptual_loss",
    "ssim_loss",
    "style_loss",
]

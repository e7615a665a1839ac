"""rainkit.loss: pixel, SSIM, perceptual, style and contrastive losses with one shared VGG pass."""

from rainkit.loss.combined import CombinedLoss
from rainkit.loss.contrastive import (
    ContrastiveLoss,
    EasyContrastiveLoss,
    contrastive_loss,
    easy_contrastive_loss,
)
from rainkit.loss.feature import FeatureLoss, Features
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
    "PerceptualLoss",
    "SSIMLoss",
    "StyleLoss",
    "VGGFeatures",
    "charbonnier_loss",
    "contrastive_loss",
    "easy_contrastive_loss",
    "gram_matrix",
    "min_input_size",
    "perceptual_loss",
    "ssim_loss",
    "style_loss",
]

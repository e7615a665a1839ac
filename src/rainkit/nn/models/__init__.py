"""rainkit.nn.models: complete deraining networks, each a :class:`RainNet` (image in, image out)."""

from rainkit.nn.base import RainNet
from rainkit.nn.models.baseline import BaselineNet
from rainkit.nn.models.derain_net import DerainNet
from rainkit.nn.models.dilated_pyramid_net import DilatedPyramidNet
from rainkit.nn.models.unet import UNet

__all__ = [
    "BaselineNet",
    "DerainNet",
    "DilatedPyramidNet",
    "RainNet",
    "UNet",
]

"""rainkit.nn: composable deraining blocks and networks that take images of any size."""

from rainkit.nn.baseline import BaselineNet
from rainkit.nn.convlstm import ConvLSTMCell
from rainkit.nn.derain_net import DerainNet
from rainkit.nn.dilated import DilatedResidualStack
from rainkit.nn.dilated_pyramid_net import DilatedPyramidNet
from rainkit.nn.multiscale import MultiScaleBranches
from rainkit.nn.prenet import PReNet
from rainkit.nn.pyramid_pooling import PyramidPooling
from rainkit.nn.receptive_field import receptive_field
from rainkit.nn.registry import MODELS, build_model
from rainkit.nn.residual import ResidualBlock
from rainkit.nn.unet import UNet

__all__ = [
    "MODELS",
    "BaselineNet",
    "ConvLSTMCell",
    "DerainNet",
    "DilatedPyramidNet",
    "DilatedResidualStack",
    "MultiScaleBranches",
    "PReNet",
    "PyramidPooling",
    "ResidualBlock",
    "UNet",
    "build_model",
    "receptive_field",
]

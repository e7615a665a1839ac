"""rainkit.nn.blocks: layers that networks are assembled from (no image-in, image-out contract)."""

from rainkit.nn.blocks.convgru import ConvGRUCell
from rainkit.nn.blocks.convlstm import ConvLSTMCell
from rainkit.nn.blocks.dilated import DilatedResidualStack
from rainkit.nn.blocks.multiscale import MultiScaleBranches
from rainkit.nn.blocks.pyramid_pooling import PyramidPooling
from rainkit.nn.blocks.residual import ResidualBlock

__all__ = [
    "ConvGRUCell",
    "ConvLSTMCell",
    "DilatedResidualStack",
    "MultiScaleBranches",
    "PyramidPooling",
    "ResidualBlock",
]

"""rainkit.nn: composable deraining blocks and networks that take images of any size.

Layout: :mod:`rainkit.nn.blocks` holds layers (residual, dilated, pyramid-pooling, multi-scale,
conv-LSTM), :mod:`rainkit.nn.models` holds complete networks (subclasses of :class:`RainNet`),
and the modules directly under ``rainkit/nn/`` are tools that work on any network (the name
table, the receptive field, tiled inference). Everything public is imported here.
"""

from rainkit.nn.blocks import (
    ConvGRUCell,
    ConvLSTMCell,
    DilatedResidualStack,
    MultiScaleBranches,
    PyramidPooling,
    ResidualBlock,
)
from rainkit.nn.models import (
    PRN,
    PRNR,
    BaselineNet,
    DerainNet,
    DilatedPyramidNet,
    PReNet,
    PReNetGRU,
    PReNetR,
    PReNetReal,
    RainNet,
    UNet,
)
from rainkit.nn.pretrained import (
    PRETRAINED,
    PretrainedWeights,
    PublishedScore,
    describe_pretrained,
    download_pretrained,
    load_pretrained,
)
from rainkit.nn.receptive_field import receptive_field
from rainkit.nn.registry import MODELS, build_model, register_model
from rainkit.nn.tiling import context_margin, tiled_forward

__all__ = [
    "MODELS",
    "PRETRAINED",
    "PRN",
    "PRNR",
    "BaselineNet",
    "ConvGRUCell",
    "ConvLSTMCell",
    "DerainNet",
    "DilatedPyramidNet",
    "DilatedResidualStack",
    "MultiScaleBranches",
    "PReNet",
    "PReNetGRU",
    "PReNetR",
    "PReNetReal",
    "PretrainedWeights",
    "PublishedScore",
    "PyramidPooling",
    "RainNet",
    "ResidualBlock",
    "UNet",
    "build_model",
    "context_margin",
    "describe_pretrained",
    "download_pretrained",
    "load_pretrained",
    "receptive_field",
    "register_model",
    "tiled_forward",
]

"""rainkit.nn: composable deraining blocks and networks that take images of any size.

Layout: :mod:`rainkit.nn.blocks` holds layers, :mod:`rainkit.nn.models` holds rainkit's own
networks, :mod:`rainkit.nn.families` holds one home per published family (its networks, released
checkpoints, key conversion and test-time processing), :mod:`rainkit.nn.registry` holds the
tables they register into, and :mod:`rainkit.nn.loading` is the one path from a weight file to a
network. The modules directly under ``rainkit/nn/`` are tools that work on any network (the
receptive field, tiled inference). Everything public is imported here.
"""

from rainkit.nn import families as _families  # registers every family (nothing is read)
from rainkit.nn.base import RainNet
from rainkit.nn.blocks import (
    ConvGRUCell,
    ConvLSTMCell,
    DilatedResidualStack,
    MultiScaleBranches,
    PyramidPooling,
    ResidualBlock,
)
from rainkit.nn.families.prenet import PRN, PRNR, PReNet, PReNetGRU, PReNetR, PReNetReal
from rainkit.nn.loading import (
    LoadedNetwork,
    WeightsFile,
    describe_pretrained,
    download_pretrained,
    identify,
    load_network,
    load_pretrained,
    load_state_strict,
    read_weights,
)
from rainkit.nn.models import BaselineNet, DerainNet, DilatedPyramidNet, UNet
from rainkit.nn.receptive_field import receptive_field
from rainkit.nn.registry import (
    FAMILIES,
    MODELS,
    PRETRAINED,
    Family,
    PretrainedWeights,
    PublishedScore,
    build_model,
    family_of,
    register_family,
    register_model,
)
from rainkit.nn.tiling import context_margin, tiled_forward

del _families

__all__ = [
    "FAMILIES",
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
    "Family",
    "LoadedNetwork",
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
    "WeightsFile",
    "build_model",
    "context_margin",
    "describe_pretrained",
    "download_pretrained",
    "family_of",
    "identify",
    "load_network",
    "load_pretrained",
    "load_state_strict",
    "read_weights",
    "receptive_field",
    "register_family",
    "register_model",
    "tiled_forward",
]

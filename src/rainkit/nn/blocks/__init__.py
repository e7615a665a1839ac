"""rainkit.nn.blocks: layers that networks are assembled from (no image-in, image-out contract)."""

from rainkit.nn.blocks.bidirectional_fusion import BidirectionalFusion
from rainkit.nn.blocks.channel_attention import ChannelAttention, ChannelAttentionBlock
from rainkit.nn.blocks.convgru import ConvGRUCell
from rainkit.nn.blocks.convlstm import ConvLSTMCell
from rainkit.nn.blocks.dilated import DilatedResidualStack
from rainkit.nn.blocks.gated_feed_forward import GatedDconvFeedForward
from rainkit.nn.blocks.implicit_neural_representation import ImplicitNeuralRepresentation
from rainkit.nn.blocks.irnn import SpatialIRNN, spatial_irnn
from rainkit.nn.blocks.layer_norm import BiasFreeLayerNorm2d, LayerNorm2d
from rainkit.nn.blocks.mefc import MixtureOfExpertsFeatureCompensator
from rainkit.nn.blocks.mixed_scale_feed_forward import MixedScaleFeedForward
from rainkit.nn.blocks.multiscale import MultiScaleBranches
from rainkit.nn.blocks.orsnet import OriginalResolutionBlock
from rainkit.nn.blocks.pyramid_pooling import PyramidPooling
from rainkit.nn.blocks.residual import ResidualBlock
from rainkit.nn.blocks.se import SqueezeExcite
from rainkit.nn.blocks.sparse_attention import TopKSparseAttention
from rainkit.nn.blocks.supervised_attention import SupervisedAttention
from rainkit.nn.blocks.transposed_attention import MultiDconvTransposedAttention

__all__ = [
    "BiasFreeLayerNorm2d",
    "BidirectionalFusion",
    "ChannelAttention",
    "ChannelAttentionBlock",
    "ConvGRUCell",
    "ConvLSTMCell",
    "DilatedResidualStack",
    "GatedDconvFeedForward",
    "ImplicitNeuralRepresentation",
    "LayerNorm2d",
    "MixedScaleFeedForward",
    "MixtureOfExpertsFeatureCompensator",
    "MultiDconvTransposedAttention",
    "MultiScaleBranches",
    "OriginalResolutionBlock",
    "PyramidPooling",
    "ResidualBlock",
    "SpatialIRNN",
    "SqueezeExcite",
    "SupervisedAttention",
    "TopKSparseAttention",
    "spatial_irnn",
]

"""Random weights for tests that use a network as a random function.

rainkit's networks start at the identity (:func:`rainkit.init.zero_output_init_`): a fresh
network returns its input, so a test of a receptive field, of tiling, of export equivalence or of
gradient flow on a fresh network would pass vacuously. Such tests call :func:`randomize_` on
their copy first.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
from torch import nn

__all__ = ["randomize_"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def randomize_(model: ModuleT, seed: int = 0, *, biases: bool = True) -> ModuleT:
    """Draw every parameter of ``model`` at random, in place, and return ``model``.

    Weights (parameters with two or more dimensions) are normal with standard deviation
    :math:`1 / \\sqrt{\\text{fan}_{in}}` (no ReLU gain, so that deep and recurrent networks
    stay finite in float32); one-dimensional parameters (biases, normalisation scales and
    shifts) are :math:`0.1\\,\\mathcal{N}(0, 1)`, plus 1 for those named ``weight`` (a
    normalisation scale). Nothing is zero, so every layer takes part. The draw depends only on
    ``seed`` and the parameters' order and shapes. ``biases=False`` sets the parameters named
    ``bias`` to zero instead.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if param.ndim >= 2:
                value = noise / math.sqrt(max(1, param[0].numel()))
            elif name.rsplit(".", 1)[-1] == "bias" and not biases:
                value = torch.zeros_like(noise)
            else:
                value = 0.1 * noise + (1.0 if name.rsplit(".", 1)[-1] == "weight" else 0.0)
            param.copy_(value.to(param.dtype))
    return model

"""Weight initialisers for ReLU networks.

Kaiming (He) initialisation draws each weight from :math:`\\mathcal{N}(0, \\sigma^2)` with

.. math::

    \\sigma = \\frac{\\text{gain}}{\\sqrt{\\text{fan}}}, \\qquad \\text{gain} = \\sqrt{2}
    \\text{ for ReLU},

where ``fan`` is ``fan_in = C_in k_h k_w`` or ``fan_out = C_out k_h k_w``. A layer
:math:`y = W x` with zero-mean weights has :math:`\\operatorname{Var}(y) = \\text{fan} \\,
\\operatorname{Var}(W) \\, \\mathbb{E}[x^2]`. ReLU zeroes half of its (symmetric) inputs, so
:math:`\\mathbb{E}[x^2] = \\tfrac{1}{2}\\operatorname{Var}(\\text{pre-activation})`; the factor 2 in
:math:`\\operatorname{Var}(W) = 2/\\text{fan}` makes up for that half, and activations (``fan_in``)
or back-propagated gradients (``fan_out``) keep unit variance through any depth instead of
shrinking or exploding geometrically. ``fan_out`` is the choice of torchvision's ResNets and of
most restoration networks, whose convolutions keep ``C_in = C_out`` so both fans agree.

References:
    K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
    Performance on ImageNet Classification", ICCV 2015.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import torch
from torch import nn

from rainkit._validation import check_choice

__all__ = ["kaiming_init_"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
               nn.LayerNorm)
_NONLINEARITIES = ("relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu")


def kaiming_init_(
    module: ModuleT,
    mode: Literal["fan_in", "fan_out"] = "fan_out",
    nonlinearity: str = "relu",
) -> ModuleT:
    """Kaiming-normal initialisation of every convolution and linear layer in ``module``.

    Walks ``module.modules()`` and, in place under :func:`torch.no_grad`:

    * convolutions (``nn.Conv*d``, ``nn.ConvTranspose*d``) and ``nn.Linear``: weight from
      :func:`torch.nn.init.kaiming_normal_` with ``mode`` and ``nonlinearity``, bias to 0;
    * normalisation layers with affine parameters (BatchNorm, GroupNorm, InstanceNorm,
      LayerNorm): weight to 1, bias to 0, so each starts as the identity.

    Args:
        module: the module to initialise (it is changed in place).
        mode: ``"fan_out"`` (default) preserves the variance of gradients in the backward pass,
            ``"fan_in"`` that of activations in the forward pass.
        nonlinearity: the activation that follows the layers, for the gain; ``"relu"`` gives
            :math:`\\sqrt{2}`.

    Returns:
        The same ``module``, for chaining.

    Raises:
        TypeError: if ``module`` is not an :class:`torch.nn.Module`.
        ValueError: if ``mode`` or ``nonlinearity`` is unknown.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.init import kaiming_init_
        >>> net = kaiming_init_(nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64)))
        >>> net[1].weight.mean().item(), net[0].bias.abs().max().item()
        (1.0, 0.0)

    References:
        K. He et al., "Delving Deep into Rectifiers", ICCV 2015.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    check_choice(mode, ("fan_in", "fan_out"), "mode")
    check_choice(nonlinearity, _NONLINEARITIES, "nonlinearity")
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.modules.conv._ConvNd, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, mode=mode, nonlinearity=nonlinearity)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, _NORM_TYPES):
                if getattr(layer, "weight", None) is not None:
                    nn.init.ones_(layer.weight)
                if getattr(layer, "bias", None) is not None:
                    nn.init.zeros_(layer.bias)
    return module

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

**Why Kaiming is not the default for the output layers.** Kaiming keeps the variance of each
layer's output equal to its input's. That is right inside a network and wrong at its two kinds
of output: the rain head, whose output is subtracted from the image, and the last layer of each
residual branch, whose output is added to the skip. With every layer Kaiming-initialised, a
fresh network predicts a "rain layer" as large as its features, and every unscaled residual sum
adds its branch's full variance: rainkit's networks built so were 2 to :math:`10^7` away from
their input in mean absolute difference on a uniform image (BaselineNet 5.4, PReNet 23, PRN
:math:`6 \\cdot 10^7`), and training from scratch started far below the rainy input's PSNR.
So every rainkit network calls :func:`kaiming_init_` and then :func:`zero_output_init_` on its
rain head and on the last layer of each residual branch (Goyal et al.'s zero-:math:`\\gamma`,
torchvision's ``zero_init_residual``, Fixup): a fresh network is the identity,
:math:`\\hat B = x`, and each branch starts as the identity map around which it learns.

**Gradients at step 0.** A zero layer passes no gradient *backwards* (:math:`\\partial L /
\\partial x = W^\\top g = 0`) but receives one (:math:`\\partial L / \\partial W = g x^\\top \\ne
0`). So the first backward pass reaches only the rain head (and the layers beside it); once the
head has moved, the second reaches the skips and the zeroed last layers of the branches, and
the third every parameter. Training loses two steps, not more
(``tests/nn/models/test_networks.py`` checks it for every network in
:data:`rainkit.nn.MODELS`). A zero layer whose output goes through a ReLU (or a gate ending in
one) before anything else never trains, since :math:`\\operatorname{ReLU}'(0) = 0`: zero the
layer after which the branch is *added*, never one before an activation.

References:
    K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
    Performance on ImageNet Classification", ICCV 2015.

    P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017
    (zero-initialised last BatchNorm :math:`\\gamma` of each residual block).

    H. Zhang, Y. N. Dauphin, T. Ma, "Fixup Initialization: Residual Learning Without
    Normalization", ICLR 2019.
"""

from __future__ import annotations

from typing import Literal, TypeVar, cast

import torch
from torch import nn

from rainkit._checks import check_choice

__all__ = ["kaiming_init_", "zero_output_init_"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
               nn.LayerNorm)
Nonlinearity = Literal["relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu"]
_NONLINEARITIES = ("relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu")
_AFFINE_TYPES = (nn.modules.conv._ConvNd, nn.Linear, *_NORM_TYPES)


def kaiming_init_(
    module: ModuleT,
    mode: Literal["fan_in", "fan_out"] = "fan_out",
    nonlinearity: Nonlinearity = "relu",
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
    gain_of = cast(Nonlinearity, check_choice(nonlinearity, _NONLINEARITIES, "nonlinearity"))
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.modules.conv._ConvNd, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, mode=mode, nonlinearity=gain_of)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, _NORM_TYPES):
                if getattr(layer, "weight", None) is not None:
                    nn.init.ones_(layer.weight)
                if getattr(layer, "bias", None) is not None:
                    nn.init.zeros_(layer.bias)
    return module


def _last_affine_layer(module: nn.Module) -> nn.Module | None:
    layers = [m for m in module.modules() if isinstance(m, _AFFINE_TYPES)
              and getattr(m, "weight", None) is not None]
    return layers[-1] if layers else None


def zero_output_init_(*modules: nn.Module) -> list[nn.Module]:
    """Zero the output layer of each module, so that it outputs zeros (bias-free layers after it
    aside); the identity-at-initialisation of residual networks.

    For each module the output layer is the last convolution, linear or affine normalisation
    layer registered in it (the module itself when it is one): its weight and bias are set to
    0 in place, under :func:`torch.no_grad`. On a residual branch :math:`y = x + F(x)` whose
    last layer is zero, :math:`y = x`; on a rain head, :math:`\\hat B = x - 0 = x`. For a
    normalisation layer this is Goyal et al.'s zero :math:`\\gamma` (with :math:`\\beta = 0`).
    "Last registered" is the order of ``__init__``; pass the layer itself when a module
    registers its output layer before others. See the module's docs for why the output layers
    are not Kaiming-initialised, and for the two steps gradients take to reach every
    parameter.

    Args:
        modules: the rain head(s) and residual branches (or their output layers).

    Returns:
        The layers that were zeroed, in order (one per module).

    Raises:
        TypeError: if an argument is not an :class:`torch.nn.Module`.
        ValueError: if a module holds no convolution, linear or affine normalisation layer.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.init import kaiming_init_, zero_output_init_
        >>> branch = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        ...                        nn.Conv2d(8, 8, 3, padding=1))
        >>> kaiming_init_(branch)[0].weight.abs().sum() > 0
        tensor(True)
        >>> zero_output_init_(branch)
        [Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))]
        >>> x = torch.rand(1, 8, 5, 5)
        >>> bool(torch.equal(x + branch(x), x))  # the residual block starts as the identity
        True

    References:
        P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017;
        H. Zhang, Y. N. Dauphin, T. Ma, "Fixup Initialization", ICLR 2019.
    """
    changed: list[nn.Module] = []
    for index, module in enumerate(modules):
        if not isinstance(module, nn.Module):
            raise TypeError(f"modules[{index}] must be a torch.nn.Module, got "
                            f"{type(module).__name__}")
        layer = _last_affine_layer(module)
        if layer is None:
            raise ValueError(f"modules[{index}] ({type(module).__name__}) holds no convolution, "
                             f"linear or affine normalisation layer to zero")
        changed.append(layer)
    with torch.no_grad():
        for layer in changed:
            for parameter in (getattr(layer, "weight", None), getattr(layer, "bias", None)):
                if isinstance(parameter, torch.Tensor):
                    parameter.zero_()
    return changed

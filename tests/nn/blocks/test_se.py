"""SqueezeExcite: RESCAN's SE gate and SAPNet's channel-residual attention."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rainkit.nn.blocks.se import SqueezeExcite


def test_formula_with_and_without_skip() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 4, 5, generator=g, dtype=torch.float64)
    for skip in (False, True):
        se = SqueezeExcite(6, 2, bias=not skip, skip=skip).double()
        p = x.mean(dim=(2, 3))  # hand-written: pool, bottleneck, (skip), sigmoid, scale
        logits = torch.relu(p @ se.fc1.weight.T + (se.fc1.bias if not skip else 0))
        logits = logits @ se.fc2.weight.T + (se.fc2.bias if not skip else 0)
        if skip:
            logits = logits + p @ se.skip.weight.T
        expected = x * torch.sigmoid(logits)[:, :, None, None]
        torch.testing.assert_close(se(x), expected)
        assert se.scale(x).shape == (2, 6, 1, 1)


def test_parameters_repr_and_errors() -> None:
    assert sum(p.numel() for p in SqueezeExcite(24, 6).parameters()) == 24 * 6 + 6 + 6 * 24 + 24
    assert sum(p.numel() for p in SqueezeExcite(32, 2, bias=False, skip=True).parameters()) \
        == 32 * 2 * 2 + 32 * 32
    assert "hidden=6" in repr(SqueezeExcite(24, 6))
    assert isinstance(SqueezeExcite(4, 2, act_layer=nn.GELU).act, nn.GELU)
    with pytest.raises(TypeError, match="act_layer must be a layer type such as nn.ReLU"):
        SqueezeExcite(4, 2, act_layer="relu")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"act_layer must build an nn.Module, but act_layer\(\) "
                                        "returned builtin_function_or_method"):
        SqueezeExcite(4, 2, act_layer=lambda: torch.relu)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="skip must be a bool"):
        SqueezeExcite(4, 2, skip=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hidden must be"):
        SqueezeExcite(4, 0)
    with pytest.raises(ValueError, match="input must have 4 channels"):
        SqueezeExcite(4, 2)(torch.rand(1, 3, 2, 2))

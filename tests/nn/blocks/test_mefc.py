"""Tests for the mixture of experts feature compensator (DRSformer's MEFC)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import MixtureOfExpertsFeatureCompensator


def authors_operation_layer(layer: torch.nn.Module, x: torch.Tensor, w: torch.Tensor
                            ) -> torch.Tensor:
    # OperationLayer.forward: each expert times its weight, concatenated, 1x1 conv, ReLU.
    states = [op(x) * w[:, i].view(-1, 1, 1, 1) for i, op in enumerate(layer._ops)]
    return layer._out(torch.cat(states, dim=1))


def authors_mefc(m: MixtureOfExpertsFeatureCompensator, x: torch.Tensor) -> torch.Tensor:
    oa, group = m.layers[0], m.layers[1]
    y = oa.ca_fc(F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1))
    weights = F.softmax(y.view(-1, oa.steps, oa.num_ops), dim=-1)
    s = group.preprocess.op(x)
    for i, layer in enumerate(group._ops):
        s = F.relu(authors_operation_layer(layer, s, weights[:, i]) + s)
    return s


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_equals_the_authors_formulation(memory_format: torch.memory_format) -> None:
    torch.manual_seed(0)
    m = MixtureOfExpertsFeatureCompensator(4).double()
    with torch.no_grad():
        m.layers[0].ca_fc[2].bias.normal_()  # weights far from uniform
    x = torch.randn(2, 4, 9, 7, dtype=torch.float64).contiguous(memory_format=memory_format)
    torch.testing.assert_close(m(x), authors_mefc(m, x))
    with torch.no_grad():
        torch.testing.assert_close(m(x), authors_mefc(m, x))


def test_keys_are_the_authors() -> None:
    keys = set(MixtureOfExpertsFeatureCompensator(4).state_dict())
    # ../shared/pretrained/drsformer/manifest-tiny-mefc.json (encoder_level0.*).
    assert {"layers.0.ca_fc.0.weight", "layers.0.ca_fc.2.bias", "layers.1.preprocess.op.0.weight",
            "layers.1._ops.3._ops.3.op.4.weight", "layers.1._ops.0._ops.6.op.1.weight",
            "layers.1._ops.0._out.0.weight"} <= keys


def test_gradcheck() -> None:
    m = MixtureOfExpertsFeatureCompensator(2, steps=1).double()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="steps"):
        MixtureOfExpertsFeatureCompensator(4, steps=0)

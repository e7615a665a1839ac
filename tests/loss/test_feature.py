"""FeatureLoss, the public base class: the contract a user's feature loss relies on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rainkit.loss import CombinedLoss, FeatureLoss, PerceptualLoss, VGGFeatures


class Recorder(FeatureLoss):
    """A user-defined loss: squared distance of channel means; records what it was given."""

    needs_negative = True

    def __init__(self, layers, vgg=None, vgg_weights="imagenet") -> None:
        super().__init__(layers, vgg_weights, normalize=False, vgg=vgg)
        self.seen: list[tuple] = []

    def forward_features(self, out_feats, pos_feats, neg_feats):
        self.seen.append((list(out_feats), list(pos_feats), [list(n) for n in neg_feats],
                          out_feats[self.layers[0]].requires_grad,
                          pos_feats[self.layers[0]].requires_grad))
        total = 0.0
        for name in self.layers:
            o = out_feats[name].mean((2, 3))
            total = total + F.mse_loss(o, pos_feats[name].mean((2, 3)))
            total = total - sum(F.mse_loss(o, n[name].mean((2, 3))) for n in neg_feats) / len(
                neg_feats)
        return total


def by_hand(vgg: VGGFeatures, layers, out, pos, negs) -> torch.Tensor:
    # the same formula on features from separate VGG passes (independent of the shared pass)
    fo, fp = vgg(out, layers), vgg(pos, layers)
    fns = [vgg(n, layers) for n in negs]
    total = torch.zeros(())
    for name in layers:
        o = fo[name].mean((2, 3))
        total = total + ((o - fp[name].mean((2, 3))) ** 2).mean()
        total = total - sum(((o - f[name].mean((2, 3))) ** 2).mean() for f in fns) / len(fns)
    return total


def test_user_loss_standalone_and_in_combined_loss(shallow_vgg) -> None:
    mine = Recorder(("relu1_1", "relu2_1"), vgg=shallow_vgg)
    combined = CombinedLoss({"perceptual": (PerceptualLoss(("relu1_2",), vgg=shallow_vgg), 0.5),
                             "mine": (mine, 2.0)})
    assert combined.num_vgg_passes == 1
    out0, pos = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    negs = [torch.rand(2, 3, 8, 8) for _ in range(2)]

    out = out0.clone().requires_grad_()
    total, terms = combined(out, pos, negs)
    total.backward()
    # it got exactly its own layers, in its order, the output's with gradients, and K=2 negatives
    assert mine.seen[-1] == (["relu1_1", "relu2_1"], ["relu1_1", "relu2_1"],
                             [["relu1_1", "relu2_1"]] * 2, True, False)

    ref_out = out0.clone().requires_grad_()
    expected = by_hand(shallow_vgg, ("relu1_1", "relu2_1"), ref_out, pos, negs)
    torch.testing.assert_close(terms["mine"], expected.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(mine(out0, pos, negs), expected.detach(), rtol=1e-5, atol=1e-7)
    perceptual = F.l1_loss(shallow_vgg(ref_out, ("relu1_2",))["relu1_2"],
                           shallow_vgg(pos, ("relu1_2",))["relu1_2"])
    (0.5 * perceptual + 2.0 * expected).backward()
    torch.testing.assert_close(out.grad, ref_out.grad, rtol=1e-4, atol=1e-7)


def test_base_class_contract(shallow_vgg) -> None:
    class NoForward(FeatureLoss):
        pass

    loss = NoForward(("relu1_1",), vgg=shallow_vgg)
    with pytest.raises(NotImplementedError, match="NoForward must implement forward_features"):
        loss(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="Recorder needs a negative"):
        Recorder(("relu1_1",), vgg=shallow_vgg)(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(TypeError, match="vgg must be a VGGFeatures"):
        NoForward(("relu1_1",), vgg=nn.Identity())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too shallow"):
        NoForward(("relu3_1",), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="valid names"):
        NoForward(("relu0_1",), vgg=shallow_vgg)
    # without vgg=, the base class builds a trunk cut at the deepest layer
    own = NoForward(("relu1_1", "relu1_2"), vgg_weights=None)
    assert own.vgg.depth == 4 and own.layers == ("relu1_1", "relu1_2")
    assert isinstance(own, nn.Module) and list(own.state_dict()) == []

"""EasyContrastiveLoss against the seed's formula, ContrastiveLoss against AECR-Net's ratio."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rainkit.loss import (
    ContrastiveLoss,
    EasyContrastiveLoss,
    VGGFeatures,
    contrastive_loss,
    easy_contrastive_loss,
)


def seed_contrastive(vgg: VGGFeatures, input, generated, ground_truth) -> torch.Tensor:
    # The seed's forward(input, generated, ground_truth), written out: pooled features, cosine.
    def f(x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(vgg(x)["relu2_1"], 1).flatten(1)

    f_in, f_gen, f_gt = f(input), f(generated), f(ground_truth)
    pos = torch.mean(1 - F.cosine_similarity(f_gen, f_gt))
    neg = torch.mean(F.cosine_similarity(f_gen, f_in))
    return pos + neg


def aecr_ratio(feats, out, pos, negs, weights, eps=1e-7) -> torch.Tensor:
    # AECR-Net: sum_i w_i * L1(a_i, p_i) / (L1(a_i, n_i) + eps), denominators averaged over negs
    total = torch.zeros(())
    f_out, f_pos, f_negs = feats(out), feats(pos), [feats(n) for n in negs]
    for layer, w in weights.items():
        fa, fp = f_out[layer], f_pos[layer]
        d_an = sum((fa - fn[layer]).abs().mean() for fn in f_negs) / len(negs)
        total = total + w * (fa - fp).abs().mean() / (d_an + eps)
    return total


def test_easy_contrastive_is_the_seed_formula(shallow_vgg) -> None:
    loss = EasyContrastiveLoss(("relu2_1",), vgg=shallow_vgg)
    rainy, generated, clean = (torch.rand(3, 3, 8, 8) for _ in range(3))
    expected = seed_contrastive(shallow_vgg, rainy, generated, clean)
    got = loss(generated, clean, rainy)  # output=generated, positive=clean, negative=input
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=0)


def test_easy_contrastive_range_and_identity(shallow_vgg) -> None:
    loss = EasyContrastiveLoss(("relu1_1", "relu2_1"), (0.5, 0.5), vgg=shallow_vgg)
    clean, rainy = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    # output == positive: the positive term is 0, the value is the mean negative cosine
    f = shallow_vgg(clean, ("relu1_1", "relu2_1"))
    g = shallow_vgg(rainy, ("relu1_1", "relu2_1"))
    cos = [F.cosine_similarity(f[n].mean((2, 3)), g[n].mean((2, 3))).mean() for n in f]
    torch.testing.assert_close(loss(clean, clean, rainy), 0.5 * cos[0] + 0.5 * cos[1],
                               atol=1e-6, rtol=1e-5)


def test_aecr_defaults() -> None:
    layers = inspect.signature(ContrastiveLoss).parameters["layers"].default
    assert layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def test_contrastive_is_aecr_ratio(shallow_vgg) -> None:
    weights = {"relu1_1": 1 / 32, "relu1_2": 1 / 16, "relu2_1": 1.0}
    loss = ContrastiveLoss(tuple(weights), tuple(weights.values()), vgg=shallow_vgg)
    out, pos = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    negs = [torch.rand(2, 3, 8, 8) for _ in range(3)]
    expected = aecr_ratio(lambda x: shallow_vgg(x, tuple(weights)), out, pos, negs, weights)
    torch.testing.assert_close(loss(out, pos, negs), expected, rtol=1e-5, atol=0)
    torch.testing.assert_close(loss(out, pos, torch.stack(negs, 1)), expected, rtol=1e-5, atol=0)
    one = aecr_ratio(lambda x: shallow_vgg(x, tuple(weights)), out, pos, negs[:1], weights)
    torch.testing.assert_close(loss(out, pos, negs[0]), one, rtol=1e-5, atol=0)


def test_zero_positive_distance_and_no_vgg_gradient(shallow_vgg) -> None:
    loss = ContrastiveLoss(("relu1_1", "relu2_1"), vgg=shallow_vgg)
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    assert loss(x, x.detach().clone(), torch.rand(2, 3, 8, 8)).item() == 0.0
    loss(x, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)).backward()
    EasyContrastiveLoss(("relu2_1",), vgg=shallow_vgg)(x, torch.rand(2, 3, 8, 8),
                                                       torch.rand(2, 3, 8, 8)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in shallow_vgg.parameters())


@pytest.mark.parametrize("cls", [EasyContrastiveLoss, ContrastiveLoss])
def test_gradcheck_float64(cls: type) -> None:
    vgg = VGGFeatures(("relu1_1",), vgg_weights=None, normalize=False).double()
    loss = cls(("conv1_1", "relu1_1"), vgg=vgg)
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    pos, neg = torch.rand(2, 3, 4, 4, dtype=torch.float64), torch.rand(2, 3, 4, 4,
                                                                       dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: loss(a, pos, neg), (x,))


def test_errors(shallow_vgg) -> None:
    loss = ContrastiveLoss(("relu1_1",), vgg=shallow_vgg)
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="needs a negative"):
        loss(x, x)
    with pytest.raises(ValueError, match="needs a negative"):
        EasyContrastiveLoss(("relu1_1",), vgg=shallow_vgg)(x, x)
    with pytest.raises(ValueError, match="negative and positive must have the same shape"):
        loss(x, x, torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="negative must hold at least one"):
        loss(x, x, [])
    with pytest.raises(ValueError, match="K = 0"):
        loss(x, x, torch.rand(1, 0, 3, 8, 8))
    with pytest.raises(TypeError, match="negative must be"):
        loss(x, x, "rainy.png")
    with pytest.raises(ValueError, match="must not be empty"):
        loss(torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match="expected 1, got 5"):
        ContrastiveLoss(("relu1_1",), (1, 1, 1, 1, 1), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="eps"):
        ContrastiveLoss(("relu1_1",), eps=-1.0, vgg=shallow_vgg)


@settings(max_examples=5, deadline=None)
@given(st.permutations([0, 1, 2]), st.floats(0.1, 10.0))
def test_negatives_order_and_weight_scale(order: list[int], scale: float) -> None:
    torch.manual_seed(0)
    vgg = VGGFeatures(("relu1_1",), vgg_weights=None, normalize=False)
    out, pos = torch.rand(1, 3, 6, 6), torch.rand(1, 3, 6, 6)
    negs = [torch.rand(1, 3, 6, 6) for _ in range(3)]
    base = ContrastiveLoss(("relu1_1",), (1.0,), vgg=vgg)(out, pos, negs)
    shuffled = ContrastiveLoss(("relu1_1",), (scale,), vgg=vgg)(out, pos, [negs[i] for i in order])
    torch.testing.assert_close(shuffled, scale * base, rtol=1e-5, atol=0)


@pytest.mark.parametrize("fn", [contrastive_loss, easy_contrastive_loss])
def test_functional_errors(fn) -> None:
    f = {"relu1_1": torch.rand(2, 4, 3, 3)}
    with pytest.raises(ValueError, match="negative_features must hold at least one dict"):
        fn(f, f, [])
    with pytest.raises(TypeError, match="negative_features must be a sequence"):
        fn(f, f, f)
    with pytest.raises(ValueError, match="output_features must hold at least one layer"):
        fn({}, {}, [{}])
    with pytest.raises(ValueError, match=r"negative_features\[1\] lacks the layers"):
        fn(f, f, [f, {"relu2_1": torch.rand(2, 4, 3, 3)}])
    with pytest.raises(ValueError, match=r"negative_features\[0\]\['relu1_1'\] must have"):
        fn(f, f, [{"relu1_1": torch.rand(1, 4, 3, 3)}])
    with pytest.raises(ValueError, match="positive_features lacks"):
        fn(f, {"relu2_1": torch.rand(2, 4, 3, 3)}, [f])


def _l1_chain(out: dict, pos: dict, negs: list, weights, eps: float = 1e-7) -> torch.Tensor:
    """contrastive_loss written with autograd's F.l1_loss chain (what it computed before)."""
    return sum(w * F.l1_loss(out[n], pos[n])
               / (torch.stack([F.l1_loss(out[n], nf[n]) for nf in negs]).mean() + eps)
               for n, w in zip(out, weights))


@pytest.mark.parametrize("negatives", [1, 3])
def test_one_node_distances_equal_autograds_chain(negatives: int) -> None:
    # the single autograd node for mean|a - t| (targets without gradient) gives F.l1_loss's
    # value bitwise and the same gradient (bitwise with one negative: a product with a sign is
    # exact and two terms sum in either order to the same float), in channels-last layout
    gen = torch.Generator().manual_seed(0)
    shapes = {"relu1_1": (2, 8, 16, 16), "relu2_1": (2, 16, 8, 8)}

    def feats() -> dict:
        return {n: torch.rand(s, generator=gen).contiguous(memory_format=torch.channels_last)
                for n, s in shapes.items()}

    base, pos, negs = feats(), feats(), [feats() for _ in range(negatives)]
    for name in base:  # exact ties (zeros of ReLU maps in all) have no gradient, as abs's
        for f in (base, pos, *negs):
            f[name][:, :, :2] = 0.0
    grads, values = [], []
    for fn in (contrastive_loss, _l1_chain):
        out = {n: f.clone().requires_grad_() for n, f in base.items()}
        value = fn(out, pos, negs, (0.5, 1.0))
        value.backward()
        values.append(value.detach())
        grads.append([out[n].grad for n in out])
    assert torch.equal(values[0], values[1])
    for mine, chain in zip(*grads):
        assert mine.is_contiguous(memory_format=torch.channels_last)
        if negatives == 1:
            assert torch.equal(mine, chain)
        else:
            torch.testing.assert_close(mine, chain, rtol=1e-6, atol=1e-12)
    assert (grads[0][0][:, :, :2] == 0).all()


def test_one_node_distances_gradcheck_and_double_backward() -> None:
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 4, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    targets = [torch.rand(2, 3, 4, 4, dtype=torch.float64, generator=gen) for _ in range(2)]
    fn = lambda x: contrastive_loss({"relu1_1": x}, {"relu1_1": targets[0]},  # noqa: E731
                                    [{"relu1_1": targets[1]}])
    assert torch.autograd.gradcheck(fn, (a,))
    assert torch.autograd.gradgradcheck(fn, (a,))
    # a target that carries a gradient gets it (autograd's chain then)
    pos = targets[0].clone().requires_grad_()
    contrastive_loss({"relu1_1": a}, {"relu1_1": pos}, [{"relu1_1": targets[1]}]).backward()
    assert pos.grad is not None and pos.grad.abs().sum() > 0

"""Overlap-tile inference: equal to the whole-image output where the network allows it."""

from __future__ import annotations

import pytest
import torch

from _random_weights import randomize_
from rainkit.nn import (
    BaselineNet,
    DerainNet,
    DilatedPyramidNet,
    PReNet,
    UNet,
    context_margin,
    receptive_field,
    tiled_forward,
)

# Random functions: a fresh network is the identity, on which tiling is trivially exact.
SMALL = {
    "baseline": lambda: randomize_(BaselineNet(channels=4, num_blocks=2)),
    "prenet": lambda: randomize_(PReNet(channels=4, stages=2, num_blocks=1)),
    "unet": lambda: randomize_(UNet(base_channels=4, depth=3)),
    "derainnet": lambda: randomize_(DerainNet(channels=4, num_blocks=1)),
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("name", ["baseline", "prenet"])
@pytest.mark.parametrize(("height", "width"), [(75, 41), (64, 96)])
def test_stride_one_networks_tile_exactly_at_any_size(name: str, height: int, width: int) -> None:
    net = SMALL[name]().eval()
    margin = context_margin(net)
    x = torch.rand(2, 3, height, width)
    with torch.no_grad():
        whole = net(x)
    tiled = tiled_forward(net, x, tile=16, margin=margin)
    assert torch.allclose(tiled, whole, atol=1e-5)


@pytest.mark.parametrize("name", ["unet", "derainnet"])
def test_pooling_networks_tile_exactly_on_aligned_sizes(name: str) -> None:
    net = SMALL[name]().eval()
    x = torch.rand(1, 3, 96, 64)
    with torch.no_grad():
        whole = net(x)
    tiled = tiled_forward(net, x, tile=32, margin=context_margin(net), align=32)
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_a_margin_below_the_receptive_field_is_not_exact() -> None:
    # the test above could pass with any margin if tiling ignored it: too little context shows
    net = SMALL["baseline"]().eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        whole = net(x)
    assert not torch.allclose(tiled_forward(net, x, tile=16, margin=1, align=1), whole, atol=1e-5)


@pytest.mark.parametrize("biases", [False, True])
def test_context_margin_is_half_the_receptive_field(biases: bool) -> None:
    # random biases included: float64 rounding differences of ~1e-16 between the probe images
    # reached the border when context_margin tested for exact non-zero changes (21, not 10)
    net = randomize_(PReNet(channels=4, stages=2, num_blocks=1), biases=biases)
    height, _ = receptive_field(net, size=65)
    # PReNet with one residual block: 5 3x3 convolutions per stage (10 px), 2 stages -> 21 px
    assert height == 21
    assert context_margin(net) == 10


def test_context_margin_of_baseline_matches_its_documented_receptive_field() -> None:
    # BaselineNet(channels=4): 21 x 21 (docs' receptive-field table) -> 10, the doctest's figure
    assert context_margin(randomize_(BaselineNet(channels=4))) == 10


def test_context_margin_of_a_fresh_network_is_zero() -> None:
    # a fresh network is the identity (zero rain head): each output pixel sees only its own
    # input, so no context is needed; the architecture is measured on random weights (above)
    assert context_margin(BaselineNet(channels=4, num_blocks=1)) == 0


def test_context_margin_ignores_float_rounding() -> None:
    # an exact identity plus a change of 1e-15 relative everywhere, as different summation
    # orders give: the margin is that of the real influence (one 3x3 convolution -> 1)
    class Noisy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x) * (1 + 1e-15 * x.sum())

    assert context_margin(Noisy()) == 1


def test_global_pooling_has_no_finite_margin() -> None:
    net = randomize_(DilatedPyramidNet(channels=4))
    assert context_margin(net, max_size=65) is None


def test_small_images_go_through_in_one_piece() -> None:
    calls = []

    def model(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return x * 2

    out = tiled_forward(model, torch.ones(1, 3, 10, 12), tile=16, margin=4)
    assert calls == [(1, 3, 10, 12)] and torch.equal(out, torch.full((1, 3, 10, 12), 2.0))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"tile": 0}, ValueError, "tile must be >= 1"),
    ({"margin": -1}, ValueError, "margin must be >= 0"),
    ({"align": 1.5}, TypeError, "align must be an int"),
])
def test_bad_options_are_named(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        tiled_forward(lambda x: x, torch.rand(1, 3, 40, 40), **kwargs)


def test_image_must_be_a_batch() -> None:
    with pytest.raises(ValueError, match="image must have shape"):
        tiled_forward(lambda x: x, torch.rand(3, 40, 40))

"""Tests for rainkit.nn.MultiScaleBranches."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rainkit.nn import MultiScaleBranches, ResidualBlock


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 13), (33, 65), (64, 64)])
def test_exact_input_size_for_any_size(size: tuple[int, int]) -> None:
    branches = MultiScaleBranches(4, lambda c: ResidualBlock(c), scales=(1, 2, 4))
    assert branches(torch.rand(2, 4, *size)).shape == (2, 12, *size)


def test_identity_bodies_preserve_constant_images() -> None:
    # Averaging and bilinear resizing both preserve a constant image, at any scale and size.
    branches = MultiScaleBranches(2, lambda c: nn.Identity(), scales=(1, 2, 4, 8), skip=False)
    x = torch.full((1, 2, 7, 13), 0.25)
    torch.testing.assert_close(branches(x), torch.full((1, 8, 7, 13), 0.25))


def test_full_scale_branch_is_the_body() -> None:
    branches = MultiScaleBranches(2, lambda c: nn.Identity(), scales=(1,), skip=True)
    x = torch.rand(1, 2, 5, 6)
    torch.testing.assert_close(branches(x), 2 * x)  # body(x) + x with an identity body


def test_fuse_and_independent_bodies() -> None:
    branches = MultiScaleBranches(4, lambda c: nn.Conv2d(c, c, 3, padding=1),
                                  fuse=nn.Conv2d(12, 4, 1))
    assert branches(torch.rand(1, 4, 9, 9)).shape == (1, 4, 9, 9)
    assert branches.bodies[0].weight.data_ptr() != branches.bodies[1].weight.data_ptr()


def test_options() -> None:
    with pytest.raises(ValueError, match="empty"):
        MultiScaleBranches(4, lambda c: nn.Identity(), scales=())
    with pytest.raises(TypeError, match="make_body"):
        MultiScaleBranches(4, nn.Identity())  # type: ignore[arg-type]
    assert "scales=(1, 2, 4)" in repr(MultiScaleBranches(4, lambda c: nn.Identity()))


@pytest.mark.parametrize("fuse", ["relu", 3, [nn.Conv2d(12, 4, 1)], nn.Conv2d])
def test_fuse_must_be_a_module(fuse: object) -> None:
    # Refused at construction with the expected form, not at the first forward as "'str' object
    # is not callable"; a layer type (nn.Conv2d) is refused too: fuse's width depends on scales.
    with pytest.raises(TypeError, match=r"fuse must be an nn.Module applied to the concatenated "
                                        r"branches \(such as nn.Conv2d\(12, 4, 1\)\) or None, "
                                        f"got {type(fuse).__name__}"):
        MultiScaleBranches(4, lambda c: nn.Identity(), fuse=fuse)  # type: ignore[arg-type]
    assert isinstance(MultiScaleBranches(4, lambda c: nn.Identity(), fuse=None).fuse, nn.Identity)

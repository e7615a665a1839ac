"""Shared helpers for the loss tests: small random-weight VGG trunks."""

from __future__ import annotations

import pytest

from rainkit.loss import VGGFeatures


@pytest.fixture
def shallow_vgg() -> VGGFeatures:
    """A random-weight trunk up to relu2_1 (7 modules), raw input (no normalisation)."""
    return VGGFeatures(layers=("relu2_1",), vgg_weights=None, normalize=False)


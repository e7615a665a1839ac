"""The shared input checks of rainkit._checks: numbers, ints, bools, empty and dtype checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rainkit._checks import (
    check_bool,
    check_floating_tensor,
    check_image_tensor,
    check_in_range,
    check_int,
    check_module_dtype,
    check_number,
    check_path,
    check_positive,
    check_raster,
)


@pytest.mark.parametrize("value", [2, 2.0, np.float32(2.0), np.float64(2.0), np.int64(2)])
def test_numbers_accept_python_and_numpy_scalars(value: object) -> None:
    for check in (check_number, check_positive):
        out = check(value, "x")
        assert out == 2.0 and type(out) is float
    assert check_in_range(value, "x", 0.0, 3.0) == 2.0


@pytest.mark.parametrize("value", [True, np.bool_(True), "1", None, 1j, torch.tensor(1.0), [1]])
def test_numbers_reject_other_types(value: object) -> None:
    for check in (check_number, check_positive):
        with pytest.raises(TypeError, match="x must be a number, got"):
            check(value, "x")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), np.float32("nan")])
def test_numbers_reject_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="x must be a finite number"):
        check_number(value, "x")
    with pytest.raises(ValueError, match="x must be a finite number"):
        check_positive(value, "x", strict=False)
    with pytest.raises(ValueError, match="x must be"):
        check_in_range(value, "x", 0.0, 1.0)


def test_positive_strict_and_not() -> None:
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        check_positive(0, "eps")
    assert check_positive(0, "eps", strict=False) == 0.0
    with pytest.raises(ValueError, match="eps must be >= 0, got -1"):
        check_positive(-1, "eps", strict=False)


def test_int_accepts_numpy_integers_not_bools_or_floats() -> None:
    out = check_int(np.int64(3), "n", minimum=1)
    assert out == 3 and type(out) is int
    for bad in (True, np.bool_(False), 3.0, np.float32(3), "3", None):
        with pytest.raises(TypeError, match="n must be an int"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        check_int(np.int32(0), "n", minimum=1)


def test_bool_must_be_a_bool() -> None:
    assert check_bool(True, "flag") is True
    assert check_bool(np.bool_(False), "flag") is False
    # bool("no") is True: a truthiness test would silently switch the option on
    for bad in ("no", "False", 0, 1, None):
        with pytest.raises(TypeError, match="flag must be a bool"):
            check_bool(bad, "flag")


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (1, 0, 4, 4), (1, 3, 0, 4), (1, 3, 4, 0)])
def test_image_tensor_rejects_zero_size_dims(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"input must not be empty, got shape"):
        check_image_tensor(torch.zeros(shape))


def test_floating_tensor_any_shape_not_integer_or_empty() -> None:
    x = torch.zeros(5)
    assert check_floating_tensor(x) is x
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype "
                                        r"torch.uint8; convert"):
        check_floating_tensor(torch.zeros(5, dtype=torch.uint8))
    with pytest.raises(TypeError, match="complex"):
        check_floating_tensor(torch.zeros(5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="must not be empty"):
        check_floating_tensor(torch.zeros(0))
    with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
        check_floating_tensor(np.zeros(5))


def test_module_dtype_names_both_dtypes_and_the_fix() -> None:
    conv = nn.Conv2d(1, 1, 1)
    check_module_dtype(torch.zeros(1, 1, 2, 2), conv)
    message = (r"input has dtype torch.float64 but Conv2d's parameters are torch.float32; "
               r"convert the input with input.to\(torch.float32\)")
    with pytest.raises(TypeError, match=message):
        check_module_dtype(torch.zeros(1, 1, 2, 2, dtype=torch.float64), conv)
    check_module_dtype(torch.zeros(1, 1, 2, 2, dtype=torch.float64), conv.double())
    check_module_dtype(torch.zeros(1, dtype=torch.float16), nn.ReLU())  # no parameters
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts inside the layers
        check_module_dtype(torch.zeros(1, 1, 2, 2, dtype=torch.bfloat16), nn.Conv2d(1, 1, 1))


def test_raster_any_leading_dims_real_nonempty() -> None:
    for shape in [(4, 5), (3, 4, 5), (2, 3, 4, 5)]:
        for dtype in (torch.float32, torch.uint8, torch.bool):
            assert check_raster(torch.zeros(shape, dtype=dtype)).shape == shape
    with pytest.raises(TypeError, match="image must be a torch.Tensor, got ndarray"):
        check_raster(np.zeros((4, 5)))
    with pytest.raises(TypeError, match="real-valued.*complex64"):
        check_raster(torch.zeros(4, 5, dtype=torch.complex64))
    with pytest.raises(TypeError, match="rainy must be a floating-point tensor, got dtype "
                                        "torch.uint8"):
        check_raster(torch.zeros(4, 5, dtype=torch.uint8), "rainy", floating=True)
    with pytest.raises(ValueError, match="at least 2 dimensions, got a 1-D tensor"):
        check_raster(torch.zeros(5))
    with pytest.raises(ValueError, match="at least 3 dimensions, got a 2-D tensor"):
        check_raster(torch.zeros(4, 5), min_ndim=3)
    with pytest.raises(ValueError, match="must not be empty"):
        check_raster(torch.zeros(0, 4, 5))


def test_path_str_or_pathlike() -> None:
    assert check_path("a/b.png") == Path("a/b.png")
    assert check_path(Path("c")) == Path("c")
    for bad in (3, None, b"a.png", ["a"]):
        with pytest.raises(TypeError, match="root must be a str or os.PathLike"):
            check_path(bad, "root")


def test_check_finite_counts_nan_and_inf_and_passes_integers() -> None:
    from rainkit._checks import check_finite
    x = torch.zeros(2, 3)
    assert check_finite(x, "image") is x
    assert check_finite(torch.zeros(2, dtype=torch.uint8)) is not None
    bad = torch.tensor([0.0, float("nan"), float("inf"), -float("inf"), float("nan")])
    with pytest.raises(ValueError, match=r"image must be finite, got 2 NaN and 2 inf of 5 "
                                         r"values.*torch.nan_to_num\(image\)"):
        check_finite(bad, "image")
    with pytest.raises(ValueError, match="1 NaN and 0 inf"):
        check_finite(torch.tensor([float("nan")], dtype=torch.float16))


def test_renamed_keyword_warns_passes_on_and_refuses_both() -> None:
    import inspect
    import warnings

    from rainkit._checks import renamed_keyword

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def build(layers: int = 1, vgg_weights: str | None = "imagenet") -> tuple:
        return layers, vgg_weights

    assert list(inspect.signature(build).parameters) == ["layers", "vgg_weights"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(2, vgg_weights=None) == (2, None)  # the new name: no warning
    with pytest.warns(FutureWarning, match=r"build\(weights=...\) was renamed vgg_weights= in "
                                           r"rainkit 0.3"):
        assert build(weights="x") == (1, "x")
    with pytest.raises(TypeError, match="got both weights= and vgg_weights="):
        build(weights="x", vgg_weights="y")

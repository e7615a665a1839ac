"""The test-set registry: names and aliases, protocols, sizes, folder checks, figure matching.

The facts are checked against the authors' own words, quoted in the comments (the READMEs of
csdwren/PReNet, csdwren/RecDerain, swz30/MPRNet, cschenxiang/DRSformer), not against rainkit.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rainkit.data import (
    LAYOUTS,
    PROTOCOLS,
    TEST_SETS,
    TestSet,
    check_test_folder,
    figure_mismatches,
    find_test_set,
    guess_test_set,
)
from rainkit.data.testsets import _normalise


@pytest.mark.parametrize(("name", "canonical"), [
    ("Rain100H", "Rain100H"), ("rain100h", "Rain100H"), ("RAIN_100H", "Rain100H"),
    ("R100H", "Rain100H"),                      # MSPFN's README: "R100H, R100L, TEST100, ..."
    ("RainHeavy", "Rain200H"), ("RainHeavy*", "Rain200H"),  # BRN: RainHeavy* = Rain200H
    ("rain light", "Rain200L"),
    ("DDN-Data", "Rain1400"), ("ddn_data", "Rain1400"),  # DRSformer's DDN-Data = Rain1400 test
    ("DID-Data", "Rain1200"), ("Test1200", "Rain1200"), ("TEST1200", "Rain1200"),
    ("test12", "Rain12"),                       # PReNet's statistic_rain12.m: datasets/test/test12
    ("real_test_1000", "SPA-Data"), ("spa", "SPA-Data"),
    ("Test2800", "Test2800"), ("Test100", "Test100"),
])
def test_names_and_aliases(name: str, canonical: str) -> None:
    assert find_test_set(name).name == canonical


def test_every_name_is_unique_after_normalising() -> None:
    seen: dict[str, str] = {}
    for test_set in TEST_SETS.values():
        assert test_set.name == next(k for k, v in TEST_SETS.items() if v is test_set)
        for name in test_set.names:
            key = _normalise(name)
            assert key not in seen or seen[key] == test_set.name, (name, seen.get(key))
            seen[key] = test_set.name


def test_misspelling_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"name must be a known test set, got 'Rain100HH'; did "
                                         r"you mean 'Rain100H'.*known test sets"):
        find_test_set("Rain100HH")
    with pytest.raises(ValueError, match="got 'nothing like it'; known"):
        find_test_set("nothing like it")
    with pytest.raises(TypeError, match="name must be a test set name \\(a str\\), got int"):
        find_test_set(100)  # type: ignore[arg-type]


def test_sizes_and_protocols_from_the_authors() -> None:
    # PReNet datasets/readme.txt: "Rain100H has 100 rainy images for testing" (also Rain100L);
    # "Rain1400 has 100 clean images" x 14 rain types; Rain12 "only includes 12 rainy images".
    # RecDerain datasets/readme.txt: RainHeavy*/RainLight* "include 1,800 training pairs and
    # 200 testing images". spanet README: SPA-Data's 1,000 test pairs.
    sizes = {"Rain100L": 100, "Rain100H": 100, "Rain200L": 200, "Rain200H": 200,
             "Rain1400": 1400, "Rain1200": 1200, "Test100": 100, "Test2800": 2800,
             "Rain12": 12, "SPA-Data": 1000}
    for name, n in sizes.items():
        assert TEST_SETS[name].n_pairs == n, name
    # the protocols' test sets as the issue and the papers list them
    assert set(PROTOCOLS["A"].test_sets) == {"Rain100L", "Rain100H", "Rain1400", "Rain12"}
    assert set(PROTOCOLS["B"].test_sets) == {"Test100", "Rain100H", "Rain100L", "Test2800",
                                             "Rain1200"}
    assert set(PROTOCOLS["C"].test_sets) == {"Rain200L", "Rain200H", "Rain1200", "Rain1400",
                                             "SPA-Data"}
    for protocol in PROTOCOLS.values():  # both directions agree
        for name in protocol.test_sets:
            assert protocol.name in TEST_SETS[name].protocols
            assert TEST_SETS[name].training_set(protocol.name) is not None
    for test_set in TEST_SETS.values():
        for protocol in test_set.protocols:
            assert test_set.name in PROTOCOLS[protocol].test_sets
        assert set(test_set.layouts) <= set(LAYOUTS), test_set.name
        assert all(v in TEST_SETS for v in test_set.other_versions)
    assert TEST_SETS["Rain1200"].name_in("B") == "Test1200"
    assert TEST_SETS["Rain1200"].name_in("C") == "DID-Data"
    assert TEST_SETS["Rain1400"].name_in("C") == "DDN-Data"
    assert TEST_SETS["Rain1400"].name_in("A") == "Rain1400"
    assert "protocol B (as Test1200)" in TEST_SETS["Rain1200"].describe()
    assert not TEST_SETS["JORDER-Practical"].has_ground_truth


@pytest.mark.parametrize(("path", "canonical"), [
    ("Datasets/test/Rain100H/input", "Rain100H"),   # MPRNet's layout
    ("datasets/test/Rain100H/rainy", "Rain100H"),   # PReNet's layout
    ("/data/rain_data/RainHeavy", "Rain200H"),
    ("Test1200", "Rain1200"),
])
def test_guess_from_a_folder(path: str, canonical: str) -> None:
    found = guess_test_set(path)
    assert found is not None and found.name == canonical


def test_guess_nothing() -> None:
    assert guess_test_set("photos/holiday") is None
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        guess_test_set(3)  # type: ignore[arg-type]


def test_folder_of_another_version_warns() -> None:
    assert check_test_folder("Rain100H", 100) == []
    [warning] = check_test_folder("Rain100H", 200, folder="data/Rain100H")
    assert warning.startswith("data/Rain100H holds 200 pairs, but Rain100H has 100")
    assert "Rain200H" in warning and "does not compare" in warning
    [warning] = check_test_folder(TEST_SETS["Rain200L"], 100)
    assert "Rain100L" in warning
    [warning] = check_test_folder("Rain100H", 4)  # four images of an unrelated folder
    assert "holds 4 pairs, but Rain100H has 100: a subset or another folder" in warning
    [warning] = check_test_folder("Rain1400", 1200)
    assert "1200 is the size of Rain1200" in warning
    assert check_test_folder("JORDER-Practical", 7) == []  # size not known


def test_folder_check_bad_arguments() -> None:
    with pytest.raises(TypeError, match="n_pairs must be an int, got str"):
        check_test_folder("Rain100H", "100")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_pairs must be >= 0"):
        check_test_folder("Rain100H", -1)
    with pytest.raises(TypeError, match="test_set must be a TestSet or a name"):
        check_test_folder(None, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_set must be a known test set, got 'Rain100HH'"):
        check_test_folder("Rain100HH", 100)


def _figure(test_set: str = "Rain100H", convention: str = "matlab-y", protocol: str = "A"):
    return SimpleNamespace(test_set=test_set, convention=convention, protocol=protocol)


def test_figure_matches_only_on_the_same_set_protocol_and_convention() -> None:
    assert figure_mismatches(_figure(), test_set="rain_100h", convention="matlab-y",
                             protocol="A", n_pairs=100) == []
    assert figure_mismatches(_figure(test_set="Test1200", protocol="B"), test_set="DID-Data",
                             convention="matlab-y") == []   # one set, two names
    reasons = figure_mismatches(_figure(), test_set="Rain100H", convention="rgb")
    assert reasons == ["the figure is scored with convention 'matlab-y', the measurement with "
                       "'rgb'"]
    [reason] = figure_mismatches(_figure(), test_set="Rain100H", convention="matlab-y",
                                 protocol="B")
    assert "protocol A" in reason and "protocol B" in reason
    [reason] = figure_mismatches(_figure(), test_set="Rain100H", convention="matlab-y",
                                 n_pairs=200)
    assert "Rain200H" in reason
    [reason] = figure_mismatches(_figure(test_set="Rain100H", protocol="C"),
                                 test_set="Rain100H", convention="matlab-y")
    assert "protocol C, which does not test on Rain100H" in reason
    [reason] = figure_mismatches(_figure(test_set="Mystery"), test_set="Rain100H",
                                 convention="matlab-y")
    assert "'Mystery' is not a known test set" in reason
    assert figure_mismatches(_figure(protocol=""), test_set="Rain100H", convention="matlab-y",
                             protocol="B") == []  # a figure without a stated protocol


def test_figure_mismatches_bad_arguments() -> None:
    with pytest.raises(TypeError, match="figure must have test_set, convention and protocol"):
        figure_mismatches(object(), test_set="Rain100H", convention="matlab-y")  # type: ignore
    with pytest.raises(ValueError, match="protocol must be one of 'A', 'B', 'C' or None"):
        figure_mismatches(_figure(), test_set="Rain100H", convention="matlab-y", protocol="D")
    with pytest.raises(TypeError, match="convention must be a str"):
        figure_mismatches(_figure(), test_set="Rain100H", convention=None)  # type: ignore


def test_works_with_the_registry_published_scores() -> None:
    nn = pytest.importorskip("rainkit.nn")
    published = getattr(nn, "PublishedScore", None)
    if published is None:
        pytest.skip("rainkit.nn.PublishedScore not available")
    figure = published("Rain100H", 29.46, 0.899, "matlab-y", "PReNet README", "A")
    assert figure_mismatches(figure, test_set="Rain100H", convention="matlab-y") == []


def test_test_set_is_frozen_and_hashable() -> None:
    test_set = TEST_SETS["Rain100H"]
    assert isinstance(test_set, TestSet) and hash(test_set) == hash(TEST_SETS["Rain100H"])
    with pytest.raises(AttributeError):
        test_set.n_pairs = 200  # type: ignore[misc]

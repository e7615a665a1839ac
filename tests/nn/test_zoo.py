"""The contract every family and every released checkpoint keeps, checked for all of them.

These tests iterate the registries, so a new family is checked the moment it registers itself,
with no edit here: its docs page and its tests must exist, its table must be consistent with
the networks it names (built on the meta device: no memory, no weights), and every published
figure must name a protocol and a scoring convention rainkit knows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from rainkit.metrics import CONVENTIONS
from rainkit.nn import FAMILIES, MODELS, PRETRAINED, RainNet, build_model, family_of

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = sorted(PRETRAINED)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_has_its_docs_page_and_its_tests(family: str) -> None:
    assert (ROOT / "docs" / "families" / f"{family}.rst").is_file()
    assert (ROOT / "tests" / "nn" / "families" / f"test_{family}.py").is_file()
    home = ROOT / "src" / "rainkit" / "nn" / "families" / family
    assert (home / "__init__.py").is_file()
    info = FAMILIES[family]
    assert info.title and info.paper and info.repository and info.licence
    for model in info.models:
        assert issubclass(MODELS[model], RainNet)
        assert MODELS[model].__module__.startswith(f"rainkit.nn.families.{family}")


def test_every_network_belongs_to_one_home() -> None:
    homes = [m for f in FAMILIES.values() for m in f.models]
    assert len(homes) == len(set(homes))
    for name, cls in MODELS.items():
        if cls.__module__.startswith("rainkit.nn.families."):
            assert name in homes, f"{name} lives in a family home but no family lists it"


@pytest.mark.parametrize("name", ENTRIES)
def test_each_entry_is_consistent_with_its_network(name: str) -> None:
    entry = PRETRAINED[name]
    assert re.fullmatch(r"[a-z0-9_]+-[a-z0-9_.-]+", name), name
    assert name.startswith(f"{entry.model}-"), f"{name}: names are <network>-<training set>"
    assert entry.family in FAMILIES and entry in FAMILIES[entry.family].weights
    with torch.device("meta"):
        net = build_model(entry.model, **entry.model_kwargs)
    assert sum(p.numel() for p in net.parameters()) == entry.num_params
    assert entry.url.startswith("https://")
    # downloadable: a direct link a script can fetch (a hash is checked if published, else
    # pinned on first use); pages of file hosts are fetched in a browser
    if entry.downloadable:
        assert not any(host in entry.url for host in ("drive.google.com", "pan.baidu.com",
                                                      "/folders/", "1drv.ms")), entry.url
    assert entry.training_set
    for score in entry.published:
        assert score.convention in CONVENTIONS, f"{name}: unknown convention {score.convention}"
        # a figure outside the three protocols (a cross-dataset test) carries protocol ""
        assert score.protocol in ("", "A", "B", "C")
        assert 10 < score.psnr < 60 and (score.ssim != score.ssim or 0 < score.ssim <= 1)
        assert score.source


def test_cache_file_names_and_hashes_are_unique() -> None:
    names = [e.file_name for e in PRETRAINED.values()]
    assert len(names) == len(set(names))
    hashes = [e.sha256 for e in PRETRAINED.values() if e.sha256]
    assert len(hashes) == len(set(hashes))


def test_the_zoo_pages_measured_column_names_known_checkpoints() -> None:
    # docs/guides/_zoo_measured.csv is written by tools/measure_zoo.py from `rainkit evaluate`
    import csv

    path = ROOT / "docs" / "guides" / "_zoo_measured.csv"
    if not path.is_file():
        pytest.skip("the zoo has not been measured in this checkout")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["name"] in PRETRAINED and row["convention"] in CONVENTIONS
        assert 0 < float(row["ssim"]) <= 1 and 5 < float(row["psnr"]) < 60
        assert row["command"].startswith(f"rainkit evaluate {row['name']} ")


def test_family_of_every_network() -> None:
    homes = {m: f.name for f in FAMILIES.values() for m in f.models}
    for name in MODELS:
        family = family_of(name)
        assert (family.name if family is not None else None) == homes.get(name)
    assert family_of("prenet") is FAMILIES["prenet"] and family_of("unet") is None
    with pytest.raises(ValueError, match="model name must be one of"):
        family_of("Prenet")
    with pytest.raises(TypeError, match="model name must be a str"):
        family_of(3)  # type: ignore[arg-type]

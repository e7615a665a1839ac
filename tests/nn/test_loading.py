"""The one loading path (rainkit.nn.loading) and the registry, on real authors' files: reading,
unwrapping, identifying, strict loading, pinning, safetensors, and every failure."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import rainkit.nn
import rainkit.nn.loading
from _loopback import loopback_server
from rainkit.checkpoint import export_safetensors, save_checkpoint
from rainkit.nn import (
    MODELS,
    PRETRAINED,
    PretrainedWeights,
    describe_pretrained,
    download_pretrained,
    identify,
    load_network,
    load_pretrained,
    load_state_strict,
    read_weights,
    registry,
)
from test_hub import _Handler  # the request handler of tests/test_hub.py

ROOT = Path(__file__).resolve().parents[2]
# /work/shared sits beside the repository (../shared); from a git worktree under
# <parent>/wt/<branch> it is one level further up.
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "prenet").is_dir()), None)

# From ../shared/pretrained/README.md: file -> (table entry, parameter count). The counts are
# the README's, taken from the authors' state dicts, not from rainkit.
FILES = {
    "Rain100H-PReNet6": ("prenet-rain100h", 168963),
    "Rain100H-PReNet6_r": ("prenet_r-rain100h", 94979),
    "Rain100H-PRN6": ("prn-rain100h", 95107),
    "Rain100H-PRN6_r": ("prn_r-rain100h", 21123),
    "Rain100L-PReNet6": ("prenet-rain100l", 168963),
    "Rain100L-PRN6": ("prn-rain100l", 95107),
    "Rain1400-PReNet6": ("prenet-rain1400", 168963),
    "Rain1400-PRN6": ("prn-rain1400", 95107),
    "real-PReNet1": ("prenet_real-1", 168963),
    "real-PReNet2": ("prenet_real-2", 168963),
}


@pytest.fixture
def prenet_dir() -> Path:
    if SHARED is None:
        pytest.skip("the fixture folder ../shared/pretrained/prenet is absent (the authors' "
                    "checkpoints are test fixtures outside the repository)")
    return SHARED / "pretrained" / "prenet"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache in tmp_path (never the user's)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def copy_of(prenet_dir: Path, stem: str, tmp_path: Path) -> Path:
    dest = tmp_path / f"{stem}.pth"
    shutil.copyfile(prenet_dir / f"{stem}.pth", dest)
    dest.chmod(0o644)
    return dest


def test_found_in_hub_cache(prenet_dir: Path, hub: Path) -> None:
    entry = PRETRAINED["prn_r-rain100h"]
    hub.mkdir(parents=True)
    shutil.copyfile(prenet_dir / "Rain100H-PRN6_r.pth", hub / entry.file_name)
    net = load_pretrained("prn_r-rain100h")
    assert type(net) is MODELS["prn_r"]


def test_missing_file_says_what_to_do(hub: Path, tmp_path: Path) -> None:
    entry = PRETRAINED["prenet-rain100h"]
    with pytest.raises(FileNotFoundError) as info:
        load_pretrained("prenet-rain100h")
    message = str(info.value)
    for part in (entry.url, str(hub), "prenet-rain100h-127c0098.pth",
                 "rainkit download prenet-rain100h"):
        assert part in message
    with pytest.raises(FileNotFoundError, match="rainkit download prenet-rain100h"):
        load_pretrained("prenet-rain100h", tmp_path / "nowhere.pth")


def test_wrong_hash(prenet_dir: Path, tmp_path: Path) -> None:
    path = copy_of(prenet_dir, "Rain100H-PReNet6", tmp_path)
    with path.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ValueError, match="SHA-256.*expected 127c0098.*Download it with") as info:
        load_pretrained("prenet-rain100h", path)
    assert "rainkit download prenet-rain100h" in str(info.value)
    assert "check_hash=False" in str(info.value)


@pytest.mark.parametrize(
    ("stem", "name", "pattern"),
    [
        ("Rain100H-PRN6", "prenet-rain100h", r"missing keys \['lstm.gates.bias'"),
        ("Rain100H-PReNet6_r", "prenet-rain100h", r"missing keys \['blocks.1.body.0.bias'"),
        ("Rain100H-PReNet6", "prenet_r-rain100h", r"unexpected keys \['blocks.1.body.0.bias'"),
        ("Rain100H-PReNet6", "prn-rain100h", r"unexpected keys \['lstm.gates.bias'"),
    ],
)
def test_other_architecture_is_named(prenet_dir: Path, stem: str, name: str,
                                     pattern: str) -> None:
    path = prenet_dir / f"{stem}.pth"
    with pytest.raises(ValueError, match="SHA-256"):
        load_pretrained(name, path)
    with pytest.raises(ValueError, match=f"do not fit the network.*{pattern}"):
        load_pretrained(name, path, check_hash=False)


def test_other_shapes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "wide.pth"
    torch.save(_authors_state(48), path)
    with pytest.raises(ValueError, match=r"shapes differ: blocks.0.body.0.bias: file \(48,\)"):
        load_pretrained("prn-rain100h", path, check_hash=False)


def _authors_state(channels: int) -> dict[str, torch.Tensor]:
    """A PRN state dict in the authors' layout with ``channels`` features."""
    state = {"conv0.0.weight": torch.zeros(channels, 6, 3, 3),
             "conv0.0.bias": torch.zeros(channels),
             "conv.0.weight": torch.zeros(3, channels, 3, 3), "conv.0.bias": torch.zeros(3)}
    for k in range(1, 6):
        for j in (0, 2):
            state[f"res_conv{k}.{j}.weight"] = torch.zeros(channels, channels, 3, 3)
            state[f"res_conv{k}.{j}.bias"] = torch.zeros(channels)
    return state


def test_fine_tuned_file_with_module_prefix(prenet_dir: Path, tmp_path: Path) -> None:
    # A user's own file (nn.DataParallel keys, new zip format): check_hash=False loads it.
    state = torch.load(prenet_dir / "Rain100H-PRN6.pth", map_location="cpu", weights_only=True)
    path = tmp_path / "mine.pth"
    torch.save({f"module.{k}": v * 1.0 for k, v in state.items()}, path)
    net = load_pretrained("prn-rain100h", path, check_hash=False)
    reference = load_pretrained("prn-rain100h", prenet_dir / "Rain100H-PRN6.pth")
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("damage", ["empty", "half", "text", "list"])
def test_damaged_files(prenet_dir: Path, tmp_path: Path, damage: str) -> None:
    path = copy_of(prenet_dir, "Rain100H-PRN6_r", tmp_path)
    data = path.read_bytes()
    expected = {"empty": "empty \\(zero bytes\\)", "half": "not a readable weight file",
                "text": "is an HTML page", "list": "holds no state dict"}[damage]
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "half":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        path.write_text("<html>404: Not Found</html>\n")
    else:
        torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="SHA-256"):
        load_pretrained("prn_r-rain100h", path)
    with pytest.raises(ValueError, match=expected) as info:
        load_pretrained("prn_r-rain100h", path, check_hash=False)
    if damage == "half":
        assert "Download it again" in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_file_without_map_location(prenet_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        load_pretrained("prn_r-rain100h", prenet_dir / "Rain100H-PRN6_r.pth", map_location=None)


def test_rainkit_checkpoint_under_authors_entry(tmp_path: Path) -> None:
    path = tmp_path / "rk.pth"
    torch.save({"model_name": "prn", "model_kwargs": {}, "model": MODELS["prn"]().state_dict()},
               path)
    with pytest.raises(ValueError, match="is a rainkit-checkpoint of 'prn'"):
        load_pretrained("prn-rain100h", path, check_hash=False)


def test_rainkit_format_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An entry for one of rainkit's own trained models: a checkpoint dict with model_name,
    # model_kwargs and the state dict under "model".
    kwargs = {"stages": 2, "channels": 4, "num_blocks": 1}
    source = MODELS["prenet_gru"](**kwargs)
    path = tmp_path / "gru.pth"
    save_checkpoint(path, source, model_name="prenet_gru", model_kwargs=kwargs)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = PretrainedWeights(name="prenet_gru-mine", model="prenet_gru", url=path.as_uri(),
                              sha256=digest, training_set="none", num_params=0,
                              model_kwargs=kwargs)
    monkeypatch.setitem(registry._PRETRAINED, entry.name, entry)
    net = load_pretrained("prenet_gru-mine", path)
    for a, b in zip(net.state_dict().values(), source.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    save_checkpoint(path, MODELS["prenet"](**kwargs), model_name="prenet", model_kwargs=kwargs)
    with pytest.raises(ValueError, match="rainkit-checkpoint of 'prenet'.*expected 'prenet_gru'"):
        load_pretrained("prenet_gru-mine", path, check_hash=False)


def test_unknown_name_lists_names() -> None:
    with pytest.raises(FileNotFoundError, match="not a published checkpoint.*'prenet-rain100h'"):
        load_pretrained("prenet-rain100")
    with pytest.raises(ValueError, match="'resnet50' is not a published checkpoint"):
        download_pretrained("resnet50")
    with pytest.raises(TypeError, match="source must be a published checkpoint name or a path"):
        load_pretrained(3)  # type: ignore[arg-type]


def test_download_file_url(prenet_dir: Path, hub: Path, tmp_path: Path) -> None:
    source = prenet_dir / "Rain100H-PRN6_r.pth"
    path = download_pretrained("prn_r-rain100h", url=source.as_uri())
    assert path == hub / PRETRAINED["prn_r-rain100h"].file_name
    assert path.read_bytes() == source.read_bytes()
    assert type(load_pretrained("prn_r-rain100h")) is MODELS["prn_r"]
    other = download_pretrained("prn_r-rain100h", url=source.as_uri(), directory=tmp_path / "d")
    assert other == tmp_path / "d" / "prn_r-rain100h-99242ce0.pth" and other.is_file()


def test_download_entry_url_and_wrong_hash(prenet_dir: Path, hub: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The entry's own URL, pointed at a local file of another checkpoint: the hash check
    # refuses it and leaves nothing under the final name.
    entry = dataclasses.replace(PRETRAINED["prenet-rain100h"],
                                url=(prenet_dir / "Rain100L-PReNet6.pth").as_uri())
    monkeypatch.setitem(registry._PRETRAINED, entry.name, entry)
    with pytest.raises(ValueError, match="SHA-256"):
        download_pretrained("prenet-rain100h")
    assert not (hub / entry.file_name).exists()
    assert not hub.exists() or not any(hub.iterdir())  # no partial file left behind
    with pytest.raises(OSError, match="download of file:"):
        download_pretrained("prenet-rain100h", url=(prenet_dir / "absent.pth").as_uri())


def test_entry_validation() -> None:
    base = PRETRAINED["prn-rain100h"]
    # a direct link without a published hash (Restormer's release asset) is downloadable: its
    # hash is pinned on the first download
    unhashed = dataclasses.replace(base, sha256=None)
    assert unhashed.downloadable and unhashed.file_name == "prn-rain100h.pth"
    with pytest.raises(ValueError, match="64 lowercase hexadecimal"):
        dataclasses.replace(base, sha256="abc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.url = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        base.model_kwargs["stages"] = 2  # type: ignore[index]


def test_describe_pretrained(prenet_dir: Path, hub: Path) -> None:
    line = describe_pretrained("prenet-rain100h")
    assert line.startswith("prenet-rain100h: prenet(stages=6), 168,963 parameters; trained on ")
    assert "Rain100H 29.46 dB / 0.899 (prenet-y, protocol A)" in line and line.endswith(
        "not downloaded (prenet-rain100h-127c0098.pth)")
    download_pretrained("prenet-rain100h", url=(prenet_dir / "Rain100H-PReNet6.pth").as_uri())
    assert "in the hub cache" in describe_pretrained("prenet-rain100h")
    assert "published none" in describe_pretrained("prenet_real-1")


# --------------------------------------------------------------------------- recognising a file
def test_an_authors_file_is_found_by_its_hash(prenet_dir: Path) -> None:
    loaded = load_network(prenet_dir / "Rain100H-PRN6_r.pth")
    assert loaded.entry is PRETRAINED["prn_r-rain100h"] and loaded.model_name == "prn_r"
    assert "SHA-256 match" in loaded.how and not loaded.model.training
    reference = load_pretrained("prn_r-rain100h", prenet_dir / "Rain100H-PRN6_r.pth")
    for a, b in zip(loaded.model.state_dict().values(), reference.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("wrapper", ["state_dict", "params", "net", "nested"])
def test_an_unpublished_file_is_found_by_keys_and_shapes(prenet_dir: Path, tmp_path: Path,
                                                         wrapper: str) -> None:
    state = torch.load(prenet_dir / "Rain100H-PRN6.pth", map_location="cpu", weights_only=True)
    state = {f"module.{k}": v + 0.5 for k, v in state.items()}  # fine-tuned, DataParallel keys
    content: object = {"state_dict": {"model": state}} if wrapper == "nested" else {wrapper: state}
    path = tmp_path / "mine.pth"
    torch.save(content, path)
    weights = read_weights(path)
    assert weights.kind == "state-dict" and "the 'module.' prefix" in weights.unwrapped
    loaded = load_network(path)
    assert loaded.model_name == "prn" and loaded.entry is None
    assert "unpublished file with the keys and shapes of prn({'stages': 6})" in loaded.how
    head = loaded.model.state_dict()["head.0.weight"]
    assert torch.equal(head, state["module.conv0.0.weight"])


def test_a_file_that_fits_two_networks_says_so(prenet_dir: Path, tmp_path: Path) -> None:
    # PReNet and the real-rain Generator_lstm have the same tensors: the file cannot tell them
    # apart, so the message says which was taken and how to choose.
    state = torch.load(prenet_dir / "Rain100H-PReNet6.pth", map_location="cpu", weights_only=True)
    path = tmp_path / "mine.pth"
    torch.save({k: v * 1.0 for k, v in state.items()}, path)
    loaded = load_network(path)
    assert loaded.model_name == "prenet"
    assert "cannot tell it from" in loaded.how and "prenet_real({'stages': 4})" in loaded.how
    assert "load_pretrained(name, path=...)" in loaded.how


def test_an_unknown_file_names_the_closest_networks(tmp_path: Path) -> None:
    path = tmp_path / "wide.pth"
    torch.save(_authors_state(48), path)
    with pytest.raises(ValueError, match=r"not a checkpoint of any network rainkit knows.*"
                                         r"Closest: prn-rain100h \(100% of keys shared: shapes"):
        load_pretrained(path)
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="0% of keys shared: missing keys"):
        load_pretrained(path)


def test_path_is_only_for_a_name(prenet_dir: Path) -> None:
    with pytest.raises(ValueError, match="path is only for a published name"):
        load_pretrained(prenet_dir / "Rain100H-PRN6.pth", prenet_dir / "Rain100H-PRN6.pth")


# --------------------------------------------------------------------------- hashes pinned on use
@pytest.fixture
def unhashed(prenet_dir: Path, hub: Path, monkeypatch: pytest.MonkeyPatch) -> PretrainedWeights:
    """An entry like the Drive-hosted releases: no published hash, not downloadable."""
    entry = dataclasses.replace(PRETRAINED["prn_r-rain100h"], name="prn_r-drive", sha256=None,
                                downloadable=False, url="https://drive.google.com/some/folder")
    monkeypatch.setitem(registry._PRETRAINED, entry.name, entry)
    return entry


def test_a_file_without_published_hash_is_pinned_on_first_use(
        unhashed: PretrainedWeights, prenet_dir: Path, tmp_path: Path) -> None:
    source = prenet_dir / "Rain100H-PRN6_r.pth"
    with pytest.warns(UserWarning, match="published no SHA-256.*keys and shapes were checked"):
        loaded = load_network("prn_r-drive", source)
    pin = rainkit.nn.loading.pin_file(unhashed)
    assert pin.read_text().strip() == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "keys and shapes; SHA-256 pinned on first use" in loaded.how
    again = load_network("prn_r-drive", source)  # no warning: the pin is checked
    assert "pinned in" in again.how
    changed = copy_of(prenet_dir, "Rain100H-PRN6_r", tmp_path)
    state = torch.load(changed, map_location="cpu", weights_only=True)
    torch.save({k: v * 2 for k, v in state.items()}, changed)
    with pytest.raises(ValueError, match="was pinned in .* when this checkpoint was first loaded"):
        load_pretrained("prn_r-drive", changed)
    assert type(load_pretrained("prn_r-drive", changed, check_hash=False)) is MODELS["prn_r"]


def test_a_file_without_published_hash_is_fetched_from_a_path(
        unhashed: PretrainedWeights, prenet_dir: Path, hub: Path) -> None:
    with pytest.raises(ValueError, match="download it from https://drive.google.com/some/folder "
                                         "in a browser.*--url FILE"):
        download_pretrained("prn_r-drive")
    with pytest.warns(UserWarning, match="pinned"):
        path = download_pretrained("prn_r-drive", url=prenet_dir / "Rain100H-PRN6_r.pth")
    assert path == hub / "prn_r-drive.pth" and path.is_file()
    assert type(load_pretrained("prn_r-drive")) is MODELS["prn_r"]
    good = path.read_bytes()
    with pytest.raises(ValueError, match="do not fit the network.* was not kept; the file "
                                         "already there is unchanged"):
        download_pretrained("prn_r-drive", url=prenet_dir / "Rain100H-PReNet6.pth",
                            overwrite=True)
    assert path.read_bytes() == good  # a wrong file is not kept and replaces nothing
    assert sorted(p.name for p in hub.iterdir()) == ["prn_r-drive.pth", "prn_r-drive.sha256"]
    path.unlink()
    with pytest.raises(ValueError, match="do not fit the network"):
        download_pretrained("prn_r-drive", url=prenet_dir / "Rain100H-PReNet6.pth")
    assert not path.exists()


# ------------------------------------------------- a direct link without a published hash
# Restormer's release: a stable URL (the v1.0 release asset) but no published hash. Served on
# the loopback address by the hub tests' handler; nothing leaves the machine.
SMALL_RESTORMER = {"channels": 8, "num_blocks": 1, "num_refinement_blocks": 1}


class _WeightsHandler(_Handler):
    """tests/test_hub.py's handler, answering the paths of ``files`` with their bytes."""

    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            super().do_GET()
            return
        type(self).hits[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def weights_server() -> Iterator[str]:
    _WeightsHandler.hits.clear()
    _WeightsHandler.files = {}
    with loopback_server(_WeightsHandler) as url:
        yield url


def _restormer_file(seed: int) -> bytes:
    """A small Restormer's weights in the authors' layout, ``{'params': state_dict}``."""
    torch.manual_seed(seed)
    net = MODELS["restormer"](**SMALL_RESTORMER)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    buffer = io.BytesIO()
    torch.save({"params": net.state_dict()}, buffer)
    return buffer.getvalue()


def test_a_direct_link_without_published_hash_is_pinned_on_first_download(
        hub: Path, weights_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{weights_server}/deraining.pth"
    entry = dataclasses.replace(PRETRAINED["restormer-rain13k"], url=url,
                                model_kwargs=SMALL_RESTORMER)
    assert entry.downloadable and entry.sha256 is None
    monkeypatch.setitem(registry._PRETRAINED, entry.name, entry)
    with pytest.raises(FileNotFoundError, match="rainkit download restormer-rain13k`"):
        load_pretrained(entry.name)
    first = _restormer_file(seed=0)
    _WeightsHandler.files["/deraining.pth"] = first
    # first download: keys and shapes checked, the hash pinned (and said so), not "verified"
    with pytest.warns(UserWarning, match="published no SHA-256 for this file, so only its keys "
                                         "and shapes were checked.* is now pinned in"):
        path = download_pretrained(entry.name)
    assert path == hub / "restormer-rain13k.pth" and path.read_bytes() == first
    pin = rainkit.nn.loading.pin_file(entry)
    assert pin == hub / "restormer-rain13k.sha256"
    assert pin.read_text().strip() == hashlib.sha256(first).hexdigest()
    # from now on the pin is checked: the same bytes pass without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert download_pretrained(entry.name) == path  # already there: checked, not fetched
        download_pretrained(entry.name, overwrite=True)
    assert "SHA-256 pinned in" in load_network(entry.name).how
    # the server now has a file with other bytes (same keys and shapes): the pin refuses it and
    # the good copy stays
    _WeightsHandler.files["/deraining.pth"] = _restormer_file(seed=1)
    with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]{64}, but [0-9a-f]{64} was "
                                         r"pinned in .*The file downloaded from "
                                         r"http://127\.0\.0\.1:\d+/deraining\.pth was not kept; "
                                         r"the file already there is unchanged\."):
        download_pretrained(entry.name, overwrite=True)
    assert path.read_bytes() == first
    assert sorted(p.name for p in hub.iterdir()) == [path.name, pin.name]  # no partial file
    path.unlink()
    with pytest.raises(ValueError, match=r"was pinned in .* was not kept\.$"):
        download_pretrained(entry.name)
    assert not path.exists()
    assert _WeightsHandler.hits["/deraining.pth"] == 4
    # a copy replaced in the cache is refused too, without a download
    path.write_bytes(_restormer_file(seed=1))
    with pytest.raises(ValueError, match="was pinned in"):
        download_pretrained(entry.name)
    assert _WeightsHandler.hits["/deraining.pth"] == 4


# --------------------------------------------------------------------------- safetensors
def test_safetensors_export_round_trip(prenet_dir: Path, tmp_path: Path) -> None:
    out = export_safetensors(prenet_dir / "Rain100L-PReNet6.pth", tmp_path / "prenet.safetensors")
    weights = read_weights(out)
    assert weights.kind == "rainkit-safetensors" and weights.model_name == "prenet"
    assert weights.model_kwargs == {"stages": 6}
    loaded = load_network(out)
    reference = load_pretrained("prenet-rain100l", prenet_dir / "Rain100L-PReNet6.pth")
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), reference(x))
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        export_safetensors(prenet_dir / "Rain100L-PReNet6.pth", out)
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        export_safetensors(prenet_dir / "Rain100L-PReNet6.pth", tmp_path / "x.pth")


def test_an_authors_safetensors_file_is_recognised(prenet_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = torch.load(prenet_dir / "Rain100H-PRN6.pth", map_location="cpu", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "prn.safetensors")
    loaded = load_network(tmp_path / "prn.safetensors")
    assert loaded.model_name == "prn" and "keys and shapes" in loaded.how
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(ValueError, match="not a readable weight file"):
        load_pretrained(tmp_path / "bad.safetensors")


# --------------------------------------------------------------------------- the registry
@pytest.fixture
def restored_registry() -> Iterator[None]:
    """Whatever a test registers is removed afterwards."""
    families, pretrained = dict(registry._FAMILIES), dict(registry._PRETRAINED)
    yield
    registry._FAMILIES.clear()
    registry._FAMILIES.update(families)
    registry._PRETRAINED.clear()
    registry._PRETRAINED.update(pretrained)


@pytest.mark.usefixtures("restored_registry")
def test_register_family_checks_its_entries() -> None:
    base = dict(name="demo", title="Demo", paper="p", repository="r", licence="l")
    with pytest.raises(TypeError, match="must be a rainkit.nn.Family"):
        registry.register_family("demo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"networks \['nope'\] are not registered"):
        registry.register_family(registry.Family(**base, models=("nope",)))
    with pytest.raises(ValueError, match="already registered"):
        registry.register_family(registry.Family(**{**base, "name": "prenet"}, models=()))
    entry = dataclasses.replace(PRETRAINED["prn-rain100h"], name="prn-demo",
                                model_kwargs={"stages": 6, "depth": 3})
    with pytest.raises(ValueError, match="prn-demo: prn.*unexpected keyword argument 'depth'"):
        registry.register_family(registry.Family(**base, models=("prn",), weights=(entry,)))
    ok = dataclasses.replace(PRETRAINED["prn-rain100h"], name="prn-demo")
    family = registry.register_family(registry.Family(**base, models=("prn",), weights=(ok,)))
    assert registry.PRETRAINED["prn-demo"].family == "demo" == family.weights[0].family
    with pytest.raises(ValueError, match="family name must be a lowercase identifier"):
        registry.Family(**{**base, "name": "De mo"}, models=())


def test_build_model_names_unknown_arguments() -> None:
    with pytest.raises(ValueError, match="UNet takes no argument 'channels'; it takes "
                                         "in_channels, base_channels"):
        rainkit.nn.build_model("unet", channels=3)
    with pytest.raises(TypeError, match="model name must be a str"):
        rainkit.nn.build_model(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model name must be one of"):
        rainkit.nn.build_model("resnet")


# --------------------------------------------------------------------------- bad arguments
def test_identify_needs_what_read_weights_returns(tmp_path: Path) -> None:
    for bad in (3, None, "net.pt", {"weight": torch.zeros(1)}):
        with pytest.raises(TypeError, match=r"weights must be a WeightsFile \(what "
                                            r"rainkit.nn.read_weights\(path\) returns\), got "
                                            f"{type(bad).__name__}"):
            identify(bad)  # type: ignore[arg-type]
    path = tmp_path / "rk.pth"
    save_checkpoint(path, MODELS["prn"](stages=1), model_name="prn", model_kwargs={"stages": 1})
    assert identify(read_weights(path)).model == "prn"


def test_load_state_strict_checks_its_arguments() -> None:
    net = nn.Linear(2, 1)
    state = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
    for bad in (None, "baseline", 3):
        with pytest.raises(TypeError, match=f"net must be a torch.nn.Module, got "
                                            f"{type(bad).__name__}"):
            load_state_strict(bad, state, what="x")  # type: ignore[arg-type]
    for bad_state, message in ((None, "state must be a mapping, got NoneType"),
                               ([1], "state must be a mapping, got list"),
                               ({"weight": 1.0, "bias": torch.zeros(1)},
                                "state must map str keys to tensors.*'weight' -> float"),
                               ({0: torch.zeros(1)}, "state must map str keys to tensors.*int 0")):
        with pytest.raises(TypeError, match=message):
            load_state_strict(net, bad_state, what="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="what must be a str, got int"):
        load_state_strict(net, state, what=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x: the weights do not fit the network \(missing keys"):
        load_state_strict(net, {"weight": torch.ones(1, 2)}, what="x")
    load_state_strict(net, state, what="x")
    assert torch.equal(net.weight, torch.ones(1, 2))


def test_read_weights_checks_map_location_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(nn.Linear(2, 1).state_dict(), path)
    missing = r"map_location 'cuda:99': (CUDA is not available|this machine has \d+ CUDA)"
    with pytest.raises(ValueError, match=missing):
        read_weights(path, map_location="cuda:99")
    with pytest.raises(ValueError, match="map_location must be a device such as 'cpu'.*'gpu0'"):
        read_weights(path, map_location="gpu0")
    with pytest.raises(TypeError, match="map_location must be a device .* a mapping of "
                                        "locations, a function or None.* got list"):
        read_weights(path, map_location=["cpu"])
    # every other form torch.load takes still works
    for location in ("cpu", torch.device("cpu"), None, {"cuda:0": "cpu"},
                     lambda storage, _: storage):
        assert set(read_weights(path, map_location=location).state) == {"weight", "bias"}
    from safetensors.torch import save_file

    save_file(nn.Linear(2, 1).state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="map_location must be a device .* for a .safetensors"):
        read_weights(tmp_path / "w.safetensors", map_location={"cuda:0": "cpu"})
    with pytest.raises(ValueError, match=missing):
        read_weights(tmp_path / "w.safetensors", map_location="cuda:99")
    assert set(read_weights(tmp_path / "w.safetensors").state) == {"weight", "bias"}

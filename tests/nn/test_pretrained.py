"""The table of published checkpoints and load_pretrained: the authors' outputs, every failure."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rainkit.nn.pretrained as pretrained_module
from rainkit.checkpoint import save_checkpoint
from rainkit.nn import (
    MODELS,
    PRETRAINED,
    PretrainedWeights,
    describe_pretrained,
    download_pretrained,
    load_pretrained,
)

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


def test_table_covers_the_ten_files() -> None:
    assert {name for name, _ in FILES.values()} == set(PRETRAINED)
    for name, count in FILES.values():
        entry = PRETRAINED[name]
        assert entry.num_params == count and entry.model in MODELS
        assert sum(p.numel() for p in entry.build().parameters()) == count
        assert entry.file_name == f"{name}-{entry.sha256[:8]}.pth"
    assert len({e.file_name for e in PRETRAINED.values()}) == len(PRETRAINED)
    assert PRETRAINED["prenet-rain100h"].published[0].psnr == 29.46  # the authors' README
    assert dict(PRETRAINED["prenet_real-1"].model_kwargs) == {"stages": 4}


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_hashes_match_table(prenet_dir: Path, stem: str) -> None:
    digest = hashlib.sha256((prenet_dir / f"{stem}.pth").read_bytes()).hexdigest()
    assert digest == PRETRAINED[FILES[stem][0]].sha256


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("stem", sorted(FILES))
def test_outputs_equal_the_authors(prenet_dir: Path, stem: str, grad: bool) -> None:
    # reference/<stem>.input<i>.npy: the authors' own code on these inputs (CPU, float32).
    name, count = FILES[stem]
    net = load_pretrained(name, prenet_dir / f"{stem}.pth")
    assert not net.training
    assert sum(p.numel() for p in net.parameters()) == count
    for i in range(2):
        x = read_png(prenet_dir / "reference" / f"input{i}.png")
        expected = np.load(prenet_dir / "reference" / f"{stem}.input{i}.npy")
        with torch.set_grad_enabled(grad):
            got = net(x)[0].detach().numpy()
        assert got.shape == expected.shape == (3, 96, 128)
        assert np.abs(got - expected).max() <= 1e-5


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
    with pytest.raises(ValueError, match="SHA-256.*expected 127c0098.*download it") as info:
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
    with pytest.raises(ValueError, match=f"another architecture.*{pattern}"):
        load_pretrained(name, path, check_hash=False)


def test_other_shapes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "wide.pth"
    torch.save(_authors_state(48), path)
    with pytest.raises(ValueError, match=r"shapes differ: \['blocks.0.body.0.bias: file \(48,\)"):
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
    expected = {"empty": "empty \\(zero bytes\\)", "half": "not a readable PyTorch checkpoint",
                "text": "not a readable PyTorch checkpoint", "list": "not a state dict"}[damage]
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
    if damage != "list":
        assert "rainkit download prn_r-rain100h" in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_file_without_map_location(prenet_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        load_pretrained("prn_r-rain100h", prenet_dir / "Rain100H-PRN6_r.pth", map_location=None)


def test_rainkit_checkpoint_under_authors_entry(tmp_path: Path) -> None:
    path = tmp_path / "rk.pth"
    torch.save({"model_name": "prn", "model_kwargs": {}, "model": MODELS["prn"]().state_dict()},
               path)
    with pytest.raises(ValueError, match="is a rainkit checkpoint of 'prn'"):
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
                              format="rainkit", model_kwargs=kwargs)
    monkeypatch.setattr(pretrained_module, "PRETRAINED", {entry.name: entry})
    net = load_pretrained("prenet_gru-mine", path)
    for a, b in zip(net.state_dict().values(), source.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    save_checkpoint(path, MODELS["prenet"](**kwargs), model_name="prenet", model_kwargs=kwargs)
    with pytest.raises(ValueError, match="checkpoint of 'prenet'.*expected 'prenet_gru'"):
        load_pretrained("prenet_gru-mine", path, check_hash=False)


def test_unknown_name_lists_names() -> None:
    with pytest.raises(ValueError, match="'prenet-rain100h', 'prenet-rain100l'.*got 'prenet'"):
        load_pretrained("prenet")
    with pytest.raises(ValueError, match="must be one of"):
        download_pretrained("resnet50")
    with pytest.raises(TypeError, match="name must be a str"):
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
    monkeypatch.setattr(pretrained_module, "PRETRAINED", {entry.name: entry})
    with pytest.raises(ValueError, match="SHA-256"):
        download_pretrained("prenet-rain100h")
    assert not (hub / entry.file_name).exists()
    assert not hub.exists() or not any(hub.iterdir())  # no partial file left behind
    with pytest.raises(OSError, match="download of file:"):
        download_pretrained("prenet-rain100h", url=(prenet_dir / "absent.pth").as_uri())


def test_entry_validation() -> None:
    base = PRETRAINED["prn-rain100h"]
    with pytest.raises(ValueError, match="rainkit.nn.MODELS"):
        dataclasses.replace(base, model="resnet")
    with pytest.raises(ValueError, match="format"):
        dataclasses.replace(base, format="onnx")
    with pytest.raises(ValueError, match="64 hexadecimal"):
        dataclasses.replace(base, sha256="abc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.url = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        base.model_kwargs["stages"] = 2  # type: ignore[index]


def test_describe_pretrained(prenet_dir: Path, hub: Path) -> None:
    line = describe_pretrained("prenet-rain100h")
    assert line.startswith("prenet-rain100h: prenet(stages=6), 168,963 parameters; trained on ")
    assert "Rain100H 29.46 dB / 0.899 (matlab-y)" in line and line.endswith(
        "not downloaded (prenet-rain100h-127c0098.pth)")
    download_pretrained("prenet-rain100h", url=(prenet_dir / "Rain100H-PReNet6.pth").as_uri())
    assert "in the hub cache" in describe_pretrained("prenet-rain100h")
    assert "no published scores" in describe_pretrained("prenet_real-1")

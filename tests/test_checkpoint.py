"""rainkit.checkpoint: round trip, atomic writes (full disk, failed rename), the clear errors for
damaged or foreign files, checksum, version-1 files and the refusal of non-finite weights."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
import torch

import rainkit._files
import rainkit.checkpoint
import rainkit.nn
from _full_disk import FullDisk
from rainkit.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    atomic_save,
    build_from_checkpoint,
    load_checkpoint,
    load_model,
    load_weights_source,
    prepare_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from rainkit.nn import PretrainedWeights, UNet, registry

KWARGS = {"base_channels": 4, "depth": 2}


@pytest.fixture
def net() -> UNet:
    return UNet(**KWARGS)


@pytest.fixture
def saved(tmp_path: Path, net: UNet) -> Path:
    return save_checkpoint(tmp_path / "net.pt", net, model_name="unet", model_kwargs=KWARGS,
                           training={"epoch": 3, "optimizer": {"lr": [1e-3]}},
                           metadata={"scores": {"psnr": 25.5}})


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_rebuilds_the_network(saved: Path, net: UNet) -> None:
    state = load_checkpoint(saved)
    assert state["format"] == CHECKPOINT_FORMAT and state["version"] == CHECKPOINT_VERSION
    assert state["model_name"] == "unet" and state["model_kwargs"] == KWARGS
    assert state["training"] == {"epoch": 3, "optimizer": {"lr": [1e-3]}}
    assert state["metadata"] == {"scores": {"psnr": 25.5}}
    model = load_model(saved)
    assert isinstance(model, UNet) and not model.training
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), net.eval()(x))
    assert build_from_checkpoint(state).training  # training mode until told otherwise
    assert _files(saved.parent) == ["net.pt"]  # no temporary file left behind


def test_full_disk_raises_enospc_and_keeps_the_old_file(
        saved: Path, net: UNet, monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()
    monkeypatch.setattr(rainkit._files, "open", FullDisk, raising=False)
    with pytest.raises(OSError, match="No space left on device") as err:
        save_checkpoint(saved, net, model_name="unet", model_kwargs=KWARGS)
    assert err.value.errno == errno.ENOSPC
    with pytest.raises(OSError, match="No space left on device"):
        atomic_save({"x": torch.zeros(3)}, saved.parent / "new.pt")
    assert _files(saved.parent) == ["net.pt"]  # no temporary file, no partial new.pt
    assert saved.read_bytes() == before


def test_failed_rename_keeps_the_old_file(saved: Path, net: UNet,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(errno.EIO, "simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(saved, UNet(**KWARGS), model_name="unet", model_kwargs=KWARGS)
    assert saved.read_bytes() == before and _files(saved.parent) == ["net.pt"]


def test_unserialisable_object_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises, nothing is written
        atomic_save({"f": lambda: 0}, tmp_path / "x.pt")
    assert _files(tmp_path) == []


def test_flipped_bytes_in_a_weight_fail_the_checksum(saved: Path, net: UNet) -> None:
    raw = bytearray(saved.read_bytes())
    start = raw.find(net.state_dict()["encoders.0.0.weight"].numpy().tobytes())
    assert start > 0  # the tensor's bytes are stored as they are in memory
    raw[start + 6] ^= 0x10
    saved.write_bytes(bytes(raw))
    assert isinstance(torch.load(saved, weights_only=True), dict)  # torch alone does not notice
    with pytest.raises(ValueError, match=r"net.pt is corrupted: the SHA-256"):
        load_checkpoint(saved)


def test_edited_metadata_fails_the_checksum(saved: Path) -> None:
    state = torch.load(saved, weights_only=True)
    state["model_kwargs"]["base_channels"] = 8  # changed without a new checksum
    torch.save(state, saved)
    with pytest.raises(ValueError, match="is corrupted"):
        load_checkpoint(saved)


@pytest.mark.parametrize(("content", "message"), [
    (b"", r"is empty \(0 bytes\)"),
    (b"epoch 12, psnr 25.1\n", "cannot be read by torch.load"),
])
def test_empty_and_text_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"bad.pt {message}"):
        load_checkpoint(path)


def test_truncated_file(saved: Path) -> None:
    raw = saved.read_bytes()
    saved.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cannot be read by torch.load.*truncated"):
        load_checkpoint(saved)


def test_plain_state_dict_and_foreign_dicts(tmp_path: Path, net: UNet) -> None:
    torch.save(net.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="is a plain state dict"):
        load_checkpoint(tmp_path / "plain.pt")
    torch.save({"model_name": "unet", "model": net.state_dict()}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="not a rainkit checkpoint: it lacks 'model_kwargs'"):
        load_checkpoint(tmp_path / "partial.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    torch.save({"model": Path("x")}, tmp_path / "code.pt")  # not weights_only-loadable
    with pytest.raises(ValueError, match="holds objects other than tensors"):
        load_checkpoint(tmp_path / "code.pt")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="must be a file"):
        load_checkpoint(tmp_path)


def test_version_1_files_still_load(tmp_path: Path, net: UNet) -> None:
    # The dict examples/train.py wrote before rainkit 0.2: no checksum, state at the top level.
    optimizer = torch.optim.Adam(net.parameters())
    torch.save({"format": 1, "model_name": "unet", "model_kwargs": KWARGS,
                "model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 7,
                "best_psnr": 24.0, "scores": {"psnr": 24.0}, "args": {"epochs": 10}},
               tmp_path / "v1.pt")
    state = load_checkpoint(tmp_path / "v1.pt")
    assert state["version"] == 1 and state["training"]["epoch"] == 7
    assert state["training"]["best_psnr"] == 24.0 and "optimizer" in state["training"]
    assert state["metadata"] == {"scores": {"psnr": 24.0}, "args": {"epochs": 10}}
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "v1.pt")(x), net.eval()(x))


def test_non_finite_weights_are_refused(saved: Path, net: UNet) -> None:
    before = saved.read_bytes()
    with torch.no_grad():
        next(net.parameters())[0] = float("nan")
    with pytest.raises(ValueError, match="non-finite weights"):
        save_checkpoint(saved, net, model_name="unet", model_kwargs=KWARGS)
    assert saved.read_bytes() == before  # a diverged run never overwrites a good checkpoint
    state = load_checkpoint(saved)
    state["model"] = net.state_dict()
    with pytest.raises(ValueError, match="non-finite weights"):
        build_from_checkpoint(state, source="diverged.pt")


def test_network_errors(saved: Path) -> None:
    state = load_checkpoint(saved)
    with pytest.raises(ValueError, match="'mynet'.*register_model"):
        build_from_checkpoint({**state, "model_name": "mynet"})
    with pytest.raises(ValueError, match="do not fit"):
        build_from_checkpoint({**state, "model_kwargs": {"base_channels": 8, "depth": 2}})
    with pytest.raises(ValueError, match="failed"):
        build_from_checkpoint({**state, "model_kwargs": {"no_such_argument": 1}})


def test_bad_arguments(tmp_path: Path, net: UNet) -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        save_checkpoint(tmp_path / "x.pt", {"w": 1}, model_name="unet")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON-like"):
        save_checkpoint(tmp_path / "x.pt", net, model_name="unet",
                        model_kwargs={"act": torch.nn.ReLU})
    with pytest.raises(TypeError, match="non-empty str"):
        save_checkpoint(tmp_path / "x.pt", net, model_name="")
    assert _files(tmp_path) == []


def test_weights_source_reads_a_checkpoint_file(saved: Path, net: UNet) -> None:
    for spec in (saved, str(saved)):
        model, name, kwargs = load_weights_source(spec)
        assert isinstance(model, UNet) and not model.training
        assert name == "unet" and kwargs == KWARGS
        for key, value in net.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), key


def test_weights_source_prefers_a_published_name(tmp_path: Path, saved: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # a published entry "tiny-rain" whose file is a plain state dict of a small BaselineNet
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    published = rainkit.nn.build_model("baseline", channels=4, num_blocks=1)
    blob = tmp_path / "blob.pth"
    torch.save(published.state_dict(), blob)
    entry = PretrainedWeights(
        name="tiny-rain", model="baseline", url="https://example.org/tiny.pth",
        sha256=hashlib.sha256(blob.read_bytes()).hexdigest(), training_set="none",
        num_params=sum(p.numel() for p in published.parameters()),
        model_kwargs={"channels": 4, "num_blocks": 1})
    monkeypatch.setitem(registry._PRETRAINED, "tiny-rain", entry)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / entry.file_name).write_bytes(blob.read_bytes())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-rain").write_bytes(saved.read_bytes())  # a file of the same name
    model, name, kwargs = load_weights_source("tiny-rain")
    assert isinstance(model, rainkit.nn.BaselineNet) and not model.training
    assert name == "baseline" and kwargs == {"channels": 4, "num_blocks": 1}
    for key, value in published.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    model, name, _ = load_weights_source("./tiny-rain")  # the file, as a path
    assert isinstance(model, UNet) and name == "unet"
    with pytest.raises(FileNotFoundError, match="tiny-rai: no such file, and not a published "
                                                r"checkpoint .*did you mean 'tiny-rain'"):
        load_weights_source("tiny-rai")


def test_weights_source_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing.pt: no such file, and not a published"):
        load_weights_source(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.pt' is not a readable weight file"):
        load_weights_source(tmp_path / "text.pt")
    with pytest.raises(TypeError, match="published checkpoint name or a path, got int"):
        load_weights_source(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bad arguments
def test_bad_paths_and_arguments_give_clear_errors(tmp_path: Path) -> None:
    # found by tests/test_public_api_fuzz.py: each was a crash inside pathlib or torch
    net, text = UNet(**KWARGS), tmp_path / "text.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        save_checkpoint(3, net, model_name="unet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path must be a file path, got the folder"):
        save_checkpoint(tmp_path, net, model_name="unet")
    with pytest.raises(ValueError, match="path must not be empty"):
        atomic_save({}, "")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        atomic_save({}, text / "x.pt")
    with pytest.raises(TypeError, match="obj cannot be saved by torch.save"):
        atomic_save(lambda: 0, tmp_path / "x.pt")
    for key in ("model_kwargs", "training", "metadata"):
        with pytest.raises(TypeError, match=f"{key} must be a mapping or None, got str"):
            save_checkpoint(tmp_path / "n.pt", net, model_name="unet", **{key: "ab"})
    with pytest.raises(TypeError, match="model_kwargs must have str keys"):
        save_checkpoint(tmp_path / "n.pt", net, model_name="unet", model_kwargs={1: 2})
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="model holds non-finite weights"):
        save_checkpoint(tmp_path / "n.pt", net, model_name="unet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.txt"]  # nothing written
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_checkpoint(None)  # type: ignore[arg-type]


def test_map_location_and_malformed_checkpoint_dicts(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "n.pt", UNet(**KWARGS), model_name="unet",
                           model_kwargs=KWARGS)
    for loader in (load_checkpoint, load_model, load_weights_source):
        with pytest.raises(ValueError, match="map_location must be a device.*'bogus'"):
            loader(path, map_location="bogus")
        with pytest.raises(TypeError, match="map_location must be a torch.device or a str"):
            loader(path, map_location=None)  # type: ignore[arg-type]
    if not torch.cuda.is_available():  # not blamed on the file any more
        with pytest.raises(ValueError, match="map_location 'cuda': CUDA is not available"):
            load_checkpoint(path, map_location="cuda")
    checkpoint = load_checkpoint(path)
    with pytest.raises(TypeError, match="checkpoint must be a mapping, got NoneType"):
        build_from_checkpoint(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checkpoint lacks 'model_name', 'model_kwargs'"):
        build_from_checkpoint({})
    with pytest.raises(ValueError, match=r"checkpoint\['model'\] must be a Mapping, got int"):
        build_from_checkpoint({**checkpoint, "model": 3})
    with pytest.raises(ValueError, match=r"checkpoint\['model_name'\] must be a str"):
        build_from_checkpoint({**checkpoint, "model_name": ["unet"]})
    with pytest.raises(TypeError, match="source must be a str or os.PathLike"):
        build_from_checkpoint(checkpoint, source=3)  # type: ignore[arg-type]


def test_prepared_once_written_twice_loads_as_saved(tmp_path: Path, net: UNet) -> None:
    prepared = prepare_checkpoint(net, model_name="unet", model_kwargs=KWARGS,
                                  training={"epoch": 2}, metadata={"note": "x"})
    write_checkpoint(tmp_path / "a.pt", prepared)
    write_checkpoint(tmp_path / "b.pt", {**prepared, "training": {}})
    saved = save_checkpoint(tmp_path / "c.pt", net, model_name="unet", model_kwargs=KWARGS,
                            training={"epoch": 2}, metadata={"note": "x"})
    a, b, c = (load_checkpoint(p) for p in (tmp_path / "a.pt", tmp_path / "b.pt", saved))
    assert a["checksum"] == c["checksum"] and a["training"] == {"epoch": 2}
    assert b["training"] == {} and b["checksum"] != a["checksum"]
    loaded = load_model(tmp_path / "b.pt").state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in net.state_dict().items())


@pytest.mark.parametrize("change", [
    {"format": "other"}, {"version": 1}, {"extra": 1}, {"training": [1]}, {"metadata": "x"},
])
def test_write_checkpoint_refuses_what_prepare_did_not_make(tmp_path: Path, net: UNet,
                                                             change: dict[str, object]) -> None:
    prepared = prepare_checkpoint(net, model_name="unet", model_kwargs=KWARGS)
    with pytest.raises(ValueError, match="prepared"):
        write_checkpoint(tmp_path / "x.pt", {**prepared, **change})
    incomplete = {k: v for k, v in prepared.items() if k != "model"}
    with pytest.raises(ValueError, match="prepared"):
        write_checkpoint(tmp_path / "x.pt", incomplete)
    with pytest.raises(TypeError, match="prepared"):
        write_checkpoint(tmp_path / "x.pt", [prepared])  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())

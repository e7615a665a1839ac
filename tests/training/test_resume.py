"""rainkit.training: resumed settings and training states."""

from __future__ import annotations

import copy

import pytest
import torch

from rainkit.training import merge_settings, restore_training_state, training_state


# --------------------------------------------------------------------------- merge_settings
def test_merge_takes_given_values_and_keeps_stored_extras() -> None:
    stored = {"epochs": 10, "data_dir": "/old", "seed": 0}
    merged = merge_settings(stored, {"epochs": 10, "data_dir": "/new", "workers": 4},
                            ["epochs", "seed"])
    assert merged == {"epochs": 10, "data_dir": "/new", "seed": 0, "workers": 4}
    assert stored == {"epochs": 10, "data_dir": "/old", "seed": 0}  # not modified


def test_merge_lists_every_conflict_with_both_values() -> None:
    with pytest.raises(ValueError) as err:
        merge_settings({"epochs": 10, "lr": 0.001, "seed": 0},
                       {"epochs": 20, "lr": 0.01, "seed": 0}, ("epochs", "lr", "seed"),
                       label="--{}")
    assert str(err.value) == ("these settings differ from the stored ones: --epochs 20 "
                              "(stored: 10), --lr 0.01 (stored: 0.001)")


def test_merge_bad_arguments() -> None:
    with pytest.raises(TypeError, match="stored must be a mapping"):
        merge_settings([], {}, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="given must be a mapping"):
        merge_settings({}, None, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fixed must be a collection"):
        merge_settings({}, {}, "epochs")


# --------------------------------------------------------------------------- training states
def _parts(t_max: int = 10, lr: float = 0.1) -> tuple[torch.nn.Module, torch.optim.Optimizer,
                                                       torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    return net, optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, t_max, 0.001)


def _steps(net: torch.nn.Module, optimizer: torch.optim.Optimizer,
           scheduler: torch.optim.lr_scheduler.LRScheduler, n: int) -> None:
    for _ in range(n):
        optimizer.zero_grad()
        net(torch.ones(4, 3)).square().sum().backward()
        optimizer.step()
        scheduler.step()


def test_restored_state_continues_exactly_like_an_unbroken_run() -> None:
    net, optimizer, scheduler = _parts()
    _steps(net, optimizer, scheduler, 3)
    # the state holds the optimizer's live tensors (as state_dict() does): copy it, as saving does
    state = copy.deepcopy(training_state(optimizer, scheduler, epoch=3, best_psnr=21.5))
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    _steps(net, optimizer, scheduler, 2)  # the unbroken run
    fresh, fresh_optimizer, fresh_scheduler = _parts()
    fresh.load_state_dict(weights)
    extra = restore_training_state(state, fresh_optimizer, fresh_scheduler)
    assert extra == {"epoch": 3, "best_psnr": 21.5}
    assert fresh_scheduler.last_epoch == 3
    _steps(fresh, fresh_optimizer, fresh_scheduler, 2)
    for key, value in net.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key  # Adam's moments came back
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()


def test_a_changed_schedule_is_refused_and_nothing_is_loaded() -> None:
    _, optimizer, scheduler = _parts(t_max=10)
    state = training_state(optimizer, scheduler, epoch=1)
    _, other_optimizer, longer = _parts(t_max=20, lr=0.5)
    with pytest.raises(ValueError) as err:
        restore_training_state(state, other_optimizer, longer)
    assert "T_max 10 (this run: 20)" in str(err.value) and "base_lrs [0.1]" in str(err.value)
    assert other_optimizer.param_groups[0]["lr"] == 0.5  # untouched


def test_scaler_state_and_bad_arguments() -> None:
    _, optimizer, scheduler = _parts()
    scaler = torch.amp.GradScaler("cpu", init_scale=512.0)
    state = training_state(optimizer, scheduler, scaler)
    assert state["scaler"]["scale"] == 512.0
    assert training_state(optimizer, scheduler)["scaler"] == {}
    restored = torch.amp.GradScaler("cpu", init_scale=2.0)
    restore_training_state(state, optimizer, scheduler, restored)
    assert restored.get_scale() == 512.0
    with pytest.raises(ValueError, match=r"lacks optimizer and scheduler: it holds \['epoch'"):
        restore_training_state({"epoch": 1}, optimizer, scheduler)
    with pytest.raises(TypeError, match="state must be a mapping"):
        restore_training_state([1], optimizer, scheduler)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scheduler must be a torch.optim.lr_scheduler.LRScheduler"):
        training_state(optimizer, optimizer)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.optimizer.Optimizer"):
        training_state(scheduler, scheduler)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scaler must be a torch.amp.GradScaler or None"):
        training_state(optimizer, scheduler, 1.0)  # type: ignore[arg-type]


def _sgd_cosine() -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)


def test_bad_labels_names_and_states_give_clear_errors() -> None:
    # found by tests/test_public_api_fuzz.py: accepted silently or a crash inside torch
    for label in ("--epochs", "", "{name}"):
        with pytest.raises(ValueError, match="label must be a str.format pattern with one {}"):
            merge_settings({}, {}, [], label=label)
    with pytest.raises(TypeError, match="label must be a str.format pattern"):
        merge_settings({}, {}, [], label=None)  # type: ignore[arg-type]
    assert merge_settings({"a": 1}, {"a": 1}, ["a"], label="--{0}") == {"a": 1}
    with pytest.raises(TypeError, match="fixed must be a collection of names, got int"):
        merge_settings({}, {}, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"fixed must hold str names, got \[3\]"):
        merge_settings({}, {}, [3])  # type: ignore[list-item]
    optimizer, scheduler = _sgd_cosine()
    other, _ = _sgd_cosine()
    with pytest.raises(ValueError, match="scheduler must schedule optimizer"):
        training_state(other, scheduler)
    state = training_state(optimizer, scheduler, epoch=3)
    with pytest.raises(TypeError, match=r"state\['scheduler'\] must be a mapping"):
        restore_training_state({**state, "scheduler": 3}, *_sgd_cosine())
    weight, bias = torch.nn.Linear(2, 1).parameters()
    groups = torch.optim.SGD([{"params": [weight]}, {"params": [bias]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match=r"state\['optimizer'\] does not fit this optimizer"):
        restore_training_state({**state, "optimizer": groups}, *_sgd_cosine())

"""Resuming a run exactly: its fixed settings, and its optimizer, schedule and scaler states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["merge_settings", "restore_training_state", "training_state"]


def merge_settings(stored: Mapping[str, Any], given: Mapping[str, Any], fixed: Iterable[str],
                   *, label: str = "{}") -> dict[str, Any]:
    """The settings of a resumed run: the given ones, refusing changes to those that are fixed.

    Some settings cannot change when a run is resumed (the number of epochs fixes the learning
    rate schedule, the loss terms fix what the logged losses mean); others may (a data folder
    that moved, the device). Names in ``fixed`` that are in both mappings must have equal
    values; every other given value replaces the stored one.

    Args:
        stored: the settings saved with the run (for instance in its checkpoint).
        given: the settings of the command resuming it.
        fixed: the names that may not change.
        label: how a name is shown in the error message, a ``str.format`` pattern such as
            ``"--{}"`` for command-line flags.

    Returns:
        ``{**stored, **given}``, a new dict.

    Raises:
        TypeError: if ``stored`` or ``given`` is not a mapping, ``fixed`` is not a collection
            of str names (a single string included), or ``label`` is not a str.
        ValueError: if fixed settings differ (the message shows each one with both values), or
            ``label`` is not a pattern with one ``{}`` for the name.

    Example:
        >>> merge_settings({"epochs": 10, "device": "cuda"}, {"epochs": 10, "device": "cpu"},
        ...                ["epochs"])
        {'epochs': 10, 'device': 'cpu'}
        >>> merge_settings({"epochs": 10}, {"epochs": 20}, ["epochs"], label="--{}")
        Traceback (most recent call last):
          ...
        ValueError: these settings differ from the stored ones: --epochs 20 (stored: 10)
    """
    for value, name in ((stored, "stored"), (given, "given")):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a mapping of setting to value, got "
                            f"{type(value).__name__}")
    if isinstance(fixed, str) or not isinstance(fixed, Iterable):
        raise TypeError(f"fixed must be a collection of names, got {type(fixed).__name__} "
                        f"{fixed!r}")
    fixed = list(fixed)
    names = [name for name in fixed if not isinstance(name, str)]
    if names:
        raise TypeError(f"fixed must hold str names, got {names}")
    if not isinstance(label, str):
        raise TypeError(f"label must be a str.format pattern such as '--{{}}', got "
                        f"{type(label).__name__} {label!r}")
    try:
        shows_name = label.format("a") != label.format("b")
    except (IndexError, KeyError, ValueError):
        shows_name = False
    if not shows_name:
        raise ValueError(f"label must be a str.format pattern with one {{}} for the name, such "
                         f"as '--{{}}', got {label!r}")
    changed = [f"{label.format(name)} {given[name]} (stored: {stored[name]})" for name in fixed
               if name in stored and name in given and given[name] != stored[name]]
    if changed:
        raise ValueError(f"these settings differ from the stored ones: {', '.join(changed)}")
    return {**stored, **given}


# Entries of an LR scheduler's state that record its progress; all others are its settings.
_PROGRESS = ("last_epoch", "_step_count", "_last_lr", "_get_lr_called_within_step",
             "_is_initial", "verbose")


def training_state(optimizer: torch.optim.Optimizer, scheduler: LRScheduler,
                   scaler: torch.amp.GradScaler | None = None, **extra: Any) -> dict[str, Any]:
    """What resuming a run needs besides the weights: the states of the optimizer, the LR
    schedule and the gradient scaler, and any ``extra`` entries (epoch, best score, ...).

    Store it as the ``training`` part of a checkpoint
    (:func:`rainkit.checkpoint.save_checkpoint`); :func:`restore_training_state` puts it back.

    Args:
        optimizer: the optimizer.
        scheduler: the learning-rate scheduler.
        scaler: the AMP gradient scaler, or ``None``.
        **extra: further JSON-like or tensor values to keep (for instance ``epoch=3``).

    Returns:
        ``{"optimizer": ..., "scheduler": ..., "scaler": ..., **extra}`` (``"scaler"`` is an
        empty dict without a scaler). Like :meth:`~torch.optim.Optimizer.state_dict`, it refers
        to the optimizer's live tensors: save it before the next step (or ``copy.deepcopy``
        it).

    Raises:
        TypeError: if an argument is not what it should be.
        ValueError: if ``scheduler`` schedules another optimizer.

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        >>> scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
        >>> sorted(training_state(optimizer, scheduler, epoch=3))
        ['epoch', 'optimizer', 'scaler', 'scheduler']
    """
    _check_parts(optimizer, scheduler, scaler)
    return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else {}, **extra}


def restore_training_state(state: Mapping[str, Any], optimizer: torch.optim.Optimizer,
                           scheduler: LRScheduler, scaler: torch.amp.GradScaler | None = None
                           ) -> dict[str, Any]:
    """Put a :func:`training_state` back into a new run's optimizer, schedule and scaler.

    Build them as the stopped run did, then call this before the first step. The schedule is
    checked first: its settings (everything but its progress, e.g. ``T_max`` and ``eta_min``
    of a cosine schedule) must equal the stored ones, since a schedule resumed with another
    length would silently jump (a changed training set or number of processes does that).
    Nothing is changed when a check fails. The scaler's state is loaded when the scaler is
    enabled and the state holds one.

    Args:
        state: what :func:`training_state` returned (e.g. ``checkpoint["training"]``).
        optimizer: the new run's optimizer, over the same parameters.
        scheduler: its scheduler, of the same class and settings.
        scaler: its gradient scaler, or ``None``.

    Returns:
        The ``extra`` entries stored with the state (epoch, best score, ...).

    Raises:
        TypeError: if ``state`` is not a mapping or an argument is not what it should be.
        ValueError: if ``state`` lacks the optimizer or scheduler state, its optimizer state
            does not fit ``optimizer``, the schedule's settings differ (the message names each
            with both values), or ``scheduler`` schedules another optimizer.

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        >>> scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
        >>> stored = training_state(optimizer, scheduler, epoch=3)
        >>> restore_training_state(stored, optimizer, scheduler)
        {'epoch': 3}
        >>> longer = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
        >>> restore_training_state(stored, optimizer, longer)
        Traceback (most recent call last):
          ...
        ValueError: the stored schedule differs from this run's: T_max 100 (this run: 200)
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping (from training_state), got "
                        f"{type(state).__name__}")
    _check_parts(optimizer, scheduler, scaler)
    missing = [key for key in ("optimizer", "scheduler") if key not in state]
    if missing:
        raise ValueError(f"state lacks {' and '.join(missing)}: it holds {sorted(state)}")
    for key in ("optimizer", "scheduler"):
        if not isinstance(state[key], Mapping):
            raise TypeError(f"state[{key!r}] must be a mapping (a state_dict), got "
                            f"{type(state[key]).__name__}")
    stored, current = state["scheduler"], scheduler.state_dict()
    changed = [f"{key} {stored.get(key)} (this run: {value})" for key, value in current.items()
               if key not in _PROGRESS and stored.get(key) != value]
    if changed:
        raise ValueError(f"the stored schedule differs from this run's: {', '.join(changed)}")
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"state['optimizer'] does not fit this optimizer: "
                         f"{type(err).__name__}: {err}") from None
    scheduler.load_state_dict(stored)
    if scaler is not None and scaler.is_enabled() and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    return {k: v for k, v in state.items() if k not in ("optimizer", "scheduler", "scaler")}


def _check_parts(optimizer: object, scheduler: object, scaler: object) -> None:
    for value, name, kind in ((optimizer, "optimizer", torch.optim.Optimizer),
                              (scheduler, "scheduler", LRScheduler)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__module__}.{kind.__name__}, got "
                            f"{type(value).__name__}")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(f"scaler must be a torch.amp.GradScaler or None, got "
                        f"{type(scaler).__name__}")
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError("scheduler must schedule optimizer, but it was built for another "
                         "optimizer")

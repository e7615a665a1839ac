"""Shared parts of the commands: device choice, loading a model by name or path, errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

__all__ = ["CommandError", "add_device_argument", "load_network", "pick_device"]


class CommandError(Exception):
    """A failure the user can act on; ``rainkit`` prints it and exits with status 1."""


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto",
                        help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")


def pick_device(flag: str, threads: int | None = None) -> torch.device:
    """The device named by ``--device`` (``auto``: cuda, then mps, then cpu)."""
    if threads is not None:
        if threads < 1:
            raise CommandError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    from rainkit.training import pick_device as pick

    try:
        return pick(flag)
    except ValueError as err:
        raise CommandError(f"--device: {err}") from None


def load_network(spec: str, device: torch.device) -> tuple[nn.Module, str, object | None]:
    """Load a published model by name, or a rainkit checkpoint by path, in eval mode
    (:func:`rainkit.checkpoint.load_weights_source`).

    Returns:
        ``(model, description, published entry or None)``.
    """
    import rainkit.nn
    from rainkit.checkpoint import load_weights_source

    entry = getattr(rainkit.nn, "PRETRAINED", {}).get(spec)
    try:
        model, _, _ = load_weights_source(spec)
    except FileNotFoundError as err:
        hint = "; 'rainkit models' lists them" if entry is None else ""
        raise CommandError(f"{err}{hint}") from None
    except ValueError as err:
        raise CommandError(str(err)) from None
    return model.to(device), spec if entry is not None else str(Path(spec)), entry

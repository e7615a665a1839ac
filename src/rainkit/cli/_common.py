"""Shared parts of the commands: device choice, loading a network, notices, errors."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

__all__ = [
    "CommandError",
    "add_device_argument",
    "add_weights_argument",
    "load_network",
    "notice",
    "pick_device",
    "scale_argument",
]


class CommandError(Exception):
    """A failure the user can act on; ``rainkit`` prints it and exits with status 1."""


def notice(text: str) -> None:
    """Print a one-line notice on stderr without breaking a progress bar."""
    from tqdm import tqdm

    tqdm.write(f"notice: {text}", file=sys.stderr)


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


def scale_argument(text: str) -> float | str:
    """``--scale``: ``auto`` or a factor >= 1 (argparse ``type``)."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 1, got {text!r}"
                                         ) from None
    if not value >= 1 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 1, got {text!r}")
    return value


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=str, default=None, metavar="FILE",
                        help="with a published model name: use this copy of its file instead "
                             "of the one in the torch hub cache")


def load_network(spec: str, weights: str | None = None) -> Any:
    """Load a published network by name, or any weight file (a rainkit checkpoint, a
    ``.safetensors`` export, or an authors' checkpoint recognised by its SHA-256 or its keys
    and shapes), on the CPU in eval mode: :func:`rainkit.nn.load_network`.

    Returns:
        The :class:`rainkit.nn.LoadedNetwork` (network, name, arguments, published entry,
        how it was recognised).
    """
    from rainkit.nn import load_network as load

    try:
        loaded = load(spec, weights)
    except (FileNotFoundError, ValueError) as err:
        raise CommandError(_cli_terms(str(err))) from None
    loaded.how = _cli_terms(loaded.how)
    return loaded


def _cli_terms(text: str) -> str:
    """Say the loading path's Python advice in the commands' terms."""
    return (text.replace("load_pretrained(name, path=...)", "NAME --weights FILE")
            .replace("pass path=", "pass --weights "))

"""The device to train on, a clean ``torchrun`` session, and sums over its processes."""

from __future__ import annotations

import contextlib
import gc
import numbers
import os
from collections.abc import Iterator, Mapping

import torch
import torch.distributed as dist

from rainkit._checks import check_device, check_int

__all__ = ["all_reduce_sum", "distributed_session", "pick_device"]


def pick_device(flag: str = "auto", local_rank: int | None = None) -> torch.device:
    """The device to train on: a name such as ``"cuda:1"``, or ``"auto"`` for the best one.

    ``"auto"`` takes CUDA if available, then Apple's MPS, then the CPU. Under ``torchrun`` pass
    the process's ``LOCAL_RANK`` so that each process takes its own GPU when ``flag`` names
    CUDA without an index.

    Args:
        flag: ``"auto"`` or a :class:`torch.device` string (``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ``"mps"``).
        local_rank: the GPU index for ``"auto"`` and ``"cuda"``; ``None`` leaves it unset.

    Returns:
        The :class:`torch.device`.

    Raises:
        TypeError: if ``flag`` is not a string or ``local_rank`` not an ``int``.
        ValueError: if ``flag`` is not a device string, or names CUDA or MPS on a machine
            without it, or ``local_rank`` is negative.

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
        >>> pick_device("auto").type in ("cuda", "mps", "cpu")
        True
    """
    if not isinstance(flag, str):
        raise TypeError(f"flag must be a device string such as 'auto' or 'cuda:1', got "
                        f"{type(flag).__name__}")
    if local_rank is not None:
        check_int(local_rank, "local_rank", minimum=0)
    mps = getattr(torch.backends, "mps", None)
    if flag == "auto":
        flag = "cuda" if torch.cuda.is_available() else \
            "mps" if mps is not None and mps.is_available() else "cpu"
    try:
        device = torch.device(flag)
    except RuntimeError as err:
        raise ValueError(f"flag must be 'auto' or a device such as 'cpu', 'cuda', 'cuda:1', "
                         f"'mps', got {flag!r} ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {flag!r}: CUDA is not available on this machine")
    if device.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"device {flag!r}: MPS is not available on this machine")
    if device.type == "cuda" and device.index is None and local_rank is not None:
        device = torch.device("cuda", local_rank)
    return device


@contextlib.contextmanager
def distributed_session(device: torch.device | str) -> Iterator[tuple[int, int]]:
    """Join ``torchrun``'s process group for the ``with`` block, and leave it cleanly.

    With ``WORLD_SIZE`` above 1 in the environment (``torchrun`` sets it, with ``RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT``) it initialises the default process group, NCCL for a
    CUDA ``device`` and Gloo otherwise; a CUDA ``device`` becomes the current one. When the
    block ends normally every process waits for the others (a barrier); in every case the group
    is destroyed after a garbage collection, so that objects holding it (DDP's reducer sits in
    reference cycles) let go first and Gloo's threads are joined here, not during interpreter
    shutdown, where a process could abort after all its work is done. Without ``WORLD_SIZE``
    it yields ``(0, 1)`` and does nothing else.

    Args:
        device: this process's device, as from :func:`pick_device` with its ``LOCAL_RANK``.

    Yields:
        ``(rank, world_size)``.

    Raises:
        TypeError: if ``device`` is not a :class:`torch.device` or a str.
        ValueError: if ``device`` is not a device of this machine, or ``WORLD_SIZE`` is set
            above 1 but ``RANK`` is missing.

    Example:
        >>> with distributed_session("cpu") as (rank, world):  # no torchrun: one process
        ...     print(rank, world)
        0 1
    """
    device = check_device(device, "device")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = 0
    if world > 1:
        if "RANK" not in os.environ:
            raise ValueError("WORLD_SIZE is set above 1 but RANK is missing: start the "
                             "processes with torchrun")
        rank = int(os.environ["RANK"])
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        yield rank, world
        if world > 1:
            dist.barrier()  # every process finishes its work before the group is torn down
    finally:
        if world > 1 and dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()


def all_reduce_sum(values: Mapping[str, float], device: torch.device | str = "cpu"
                   ) -> dict[str, float]:
    """Sum each value over the processes of the default process group (DDP), in float64.

    Use it for sums and counts that every process built over its share of the data (a mean is
    then a summed total over a summed count). Without an initialised process group it returns
    a copy of ``values``. Every process must pass the same keys in the same order.

    Args:
        values: name to number.
        device: where the collective runs: a CUDA device for NCCL; anything else uses the CPU.

    Returns:
        Name to the sum over all processes, as Python floats.

    Raises:
        TypeError: if ``values`` is not a mapping of name to real number (not ``bool``), or
            ``device`` not a device.
        ValueError: if ``device`` is not a device of this machine.

    Example:
        >>> all_reduce_sum({"loss": 1.5, "count": 3.0})  # a single process: unchanged
        {'loss': 1.5, 'count': 3.0}
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of name to number, got "
                        f"{type(values).__name__}")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"values[{key!r}] must be a real number, got "
                            f"{type(value).__name__} {value!r:.40}")
    device = check_device(device, "device")
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return {k: float(v) for k, v in values.items()}
    buffer = torch.tensor([float(v) for v in values.values()], dtype=torch.float64,
                          device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(buffer)
    return dict(zip(values, buffer.tolist()))

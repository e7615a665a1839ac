"""Training-loop plumbing that never loses work: run folders, CSV logs, resume, devices, DDP."""

from __future__ import annotations

import contextlib
import csv
import gc
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "Validator",
    "all_reduce_sum",
    "append_log_row",
    "centre_crop",
    "claim_run_dir",
    "distributed_session",
    "merge_settings",
    "pick_device",
    "truncate_log",
]


def claim_run_dir(folder: str | os.PathLike[str], outputs: Sequence[str], *,
                  overwrite: bool = False, clear: Sequence[str] = (), remove: bool = True
                  ) -> list[Path]:
    """Take ``folder`` for a new run, refusing to start over an earlier run's outputs.

    A new run that writes ``last.pt`` and ``log.csv`` into a folder already holding them would
    mix two runs in one log and replace the earlier checkpoints. This refuses that unless
    ``overwrite`` says to replace them; then it deletes them (and the files matching the
    ``clear`` patterns, such as old sample images) so nothing of the earlier run remains.

    Args:
        folder: the run folder (it need not exist).
        outputs: file names, relative to ``folder``, that mark an earlier run.
        overwrite: delete an earlier run's files instead of refusing.
        clear: glob patterns, relative to ``folder``, of further files to delete on overwrite.
        remove: whether this process deletes (``False`` on all but one of several processes
            sharing the folder: they check, the first one deletes).

    Returns:
        The paths deleted (empty unless ``overwrite``), sorted within each group.

    Raises:
        TypeError: if ``outputs`` or ``clear`` is a single string.
        FileExistsError: if ``folder`` holds any of ``outputs`` and ``overwrite`` is false; the
            message names them.

    Example:
        >>> import tempfile, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> claim_run_dir(run, ["last.pt", "log.csv"])
        []
        >>> _ = (run / "log.csv").write_text("epoch\\n1\\n")
        >>> claim_run_dir(run, ["last.pt", "log.csv"])
        Traceback (most recent call last):
          ...
        FileExistsError: ... holds log.csv of an earlier run
        >>> [p.name for p in claim_run_dir(run, ["last.pt", "log.csv"], overwrite=True)]
        ['log.csv']
    """
    for value, name in ((outputs, "outputs"), (clear, "clear")):
        if isinstance(value, str):
            raise TypeError(f"{name} must be a sequence of names, got the string {value!r}")
    folder = Path(folder)
    found = [name for name in outputs if (folder / name).exists()]
    if found and not overwrite:
        raise FileExistsError(f"{folder} holds {', '.join(found)} of an earlier run")
    if not overwrite or not remove:
        return []
    removed = [folder / name for name in found]
    for pattern in clear:
        removed += sorted(folder.glob(pattern))
    for path in removed:
        path.unlink()
    return removed


def append_log_row(path: str | os.PathLike[str], row: Mapping[str, Any]) -> None:
    """Append one row to a CSV log and force it to disk, writing the header for a new file.

    The row is flushed and ``fsync``-ed before returning, so a run killed right after still
    has it. The columns are ``row``'s keys in order; every row of a log must have the same.

    Args:
        path: the CSV file (created with a header row if missing).
        row: column name to value, such as ``{"epoch": 1, "loss": 0.25}``.

    Raises:
        TypeError: if ``row`` is not a mapping.
        ValueError: if ``row`` is empty.

    Example:
        >>> import tempfile, pathlib
        >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
        >>> append_log_row(log, {"epoch": 1, "loss": 0.5})
        >>> append_log_row(log, {"epoch": 2, "loss": 0.25})
        >>> log.read_text().splitlines()
        ['epoch,loss', '1,0.5', '2,0.25']
    """
    if not isinstance(row, Mapping):
        raise TypeError(f"row must be a mapping of column to value, got {type(row).__name__}")
    if not row:
        raise ValueError("row must have at least one column, got an empty mapping")
    path = Path(path)
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def truncate_log(path: str | os.PathLike[str], epoch: int, columns: Sequence[str], *,
                 key: str = "epoch") -> None:
    """Cut a CSV log back to the rows of a resumed checkpoint, refusing one with other columns.

    A run killed after writing an epoch's log row but before its checkpoint does that epoch
    again when resumed; without this its row would appear twice. Rows whose ``key`` column is
    a whole number up to ``epoch`` are kept (so is their order); later rows and incomplete rows
    (a line cut short by the kill) are dropped. The file is replaced atomically. A missing file
    is left missing.

    Args:
        path: the CSV log written by :func:`append_log_row`.
        epoch: the last epoch to keep (the checkpoint's), an ``int`` :math:`\\ge 0`.
        columns: the columns the resumed run writes; the log must have exactly these.
        key: the column holding the epoch number.

    Raises:
        TypeError: if ``epoch`` is not an ``int`` or ``columns`` is a string.
        ValueError: if ``epoch`` is negative, ``key`` is not in ``columns``, or the log's
            columns differ from ``columns`` (the message lists both; the file is unchanged).

    Example:
        >>> import tempfile, pathlib
        >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
        >>> for epoch in (1, 2, 3):
        ...     append_log_row(log, {"epoch": epoch, "loss": 1 / epoch})
        >>> truncate_log(log, 2, ["epoch", "loss"])
        >>> log.read_text().splitlines()
        ['epoch,loss', '1,1.0', '2,0.5']
    """
    from rainkit._validation import check_int

    check_int(epoch, "epoch", minimum=0)
    if isinstance(columns, str):
        raise TypeError(f"columns must be a sequence of names, got the string {columns!r}")
    columns = list(columns)
    if key not in columns:
        raise ValueError(f"key must be one of the columns {', '.join(columns)}, got {key!r}")
    path = Path(path)
    if not path.exists():
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if None not in r.values() and str(r.get(key)).isdigit()
                and int(r[key]) <= epoch]
    if reader.fieldnames not in (None, columns):
        raise ValueError(f"{path} has the columns {', '.join(reader.fieldnames)}, this run "
                         f"would add {', '.join(columns)}")
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


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
        TypeError: if ``stored`` or ``given`` is not a mapping, or ``fixed`` is a string.
        ValueError: if fixed settings differ; the message shows each one with both values.

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
    if isinstance(fixed, str):
        raise TypeError(f"fixed must be a collection of names, got the string {fixed!r}")
    changed = [f"{label.format(name)} {given[name]} (stored: {stored[name]})" for name in fixed
               if name in stored and name in given and given[name] != stored[name]]
    if changed:
        raise ValueError(f"these settings differ from the stored ones: {', '.join(changed)}")
    return {**stored, **given}


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
    from rainkit._validation import check_int

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
        ValueError: if ``WORLD_SIZE`` is set above 1 but ``RANK`` is missing.

    Example:
        >>> with distributed_session("cpu") as (rank, world):  # no torchrun: one process
        ...     print(rank, world)
        0 1
    """
    device = torch.device(device)
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
        TypeError: if ``values`` is not a mapping.

    Example:
        >>> all_reduce_sum({"loss": 1.5, "count": 3.0})  # a single process: unchanged
        {'loss': 1.5, 'count': 3.0}
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of name to number, got "
                        f"{type(values).__name__}")
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return {k: float(v) for k, v in values.items()}
    device = torch.device(device)
    buffer = torch.tensor([float(v) for v in values.values()], dtype=torch.float64,
                          device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(buffer)
    return dict(zip(values, buffer.tolist()))


def centre_crop(image: torch.Tensor, size: int | None) -> torch.Tensor:
    r"""The central ``size`` by ``size`` window of an image (each side capped at the image's).

    Args:
        image: a tensor :math:`(*, H, W)`.
        size: the largest side kept, an ``int`` :math:`\ge 1`; ``None`` keeps the whole image.

    Returns:
        A view :math:`(*, \min(H, size), \min(W, size))` of ``image``.

    Raises:
        TypeError: if ``image`` is not a tensor or ``size`` not an ``int`` or ``None``.
        ValueError: if ``image`` has fewer than 2 dimensions or ``size`` is below 1.

    Example:
        >>> centre_crop(torch.zeros(3, 40, 10), 16).shape
        torch.Size([3, 16, 10])
    """
    from rainkit._validation import check_int

    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.dim() < 2:
        raise ValueError(f"image must have at least 2 dimensions (H, W), got shape "
                         f"{tuple(image.shape)}")
    h, w = image.shape[-2:]
    if size is None:
        return image
    size = check_int(size, "size", minimum=1)
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top:top + size, left:left + size]


class Validator:
    r"""Mean PSNR, SSIM (on RGB and on Y) and LPIPS of a network over validation pairs.

    PSNR and SSIM are those of :func:`rainkit.metrics.score` under the ``"rgb"`` and
    ``"matlab-y"`` conventions (Y of BT.601 as MATLAB's ``rgb2ycbcr``), on outputs clamped to
    :math:`[0, 1]`; LPIPS is added when a module is given. Means are over images (each image
    scored at its own size, optionally centre-cropped to ``max_size``). Under DDP each process
    scores every ``world``-th pair and the sums are combined with :func:`all_reduce_sum`, so
    every process gets the same means.

    Args:
        pairs: a sequence of ``(rainy, clean, name)`` with tensors :math:`(3, H, W)` in
            :math:`[0, 1]`, such as a :class:`rainkit.data.PairedRainDataset` without patches.
        device: where the network runs.
        max_size: centre-crop each image to at most this side (``None``: whole images); at
            least the SSIM window, 11.
        lpips: an LPIPS module (:class:`rainkit.metrics.LPIPS`) on ``device``, or ``None``.
        rank: this process's rank (0 without DDP).
        world: the number of processes (1 without DDP).

    Attributes:
        names: the score names, ``["psnr", "ssim", "psnr_y", "ssim_y"]`` plus ``"lpips"``.

    Raises:
        TypeError: if ``pairs`` is not a sequence.
        ValueError: if ``max_size`` is below 11 or ``rank`` is not in ``[0, world)``.

    Example:
        >>> clean = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> validator = Validator([(clean.flip(-1), clean, "pair")])
        >>> scores, grids = validator.score(lambda rainy: rainy.flip(-1), keep=1)
        >>> scores["psnr"], scores["ssim"]
        (inf, 1.0)
        >>> grids[0][0], grids[0][1].shape  # rainy | derained | clean
        ('pair', torch.Size([3, 32, 96]))
    """

    #: The smallest side SSIM scores (its Gaussian window).
    window = 11

    def __init__(self, pairs: Sequence[Any], device: torch.device | str = "cpu", *,
                 max_size: int | None = None, lpips: nn.Module | None = None, rank: int = 0,
                 world: int = 1) -> None:
        from rainkit._validation import check_int

        if not isinstance(pairs, Sequence) and not hasattr(pairs, "__getitem__"):
            raise TypeError(f"pairs must be a sequence of (rainy, clean, name), got "
                            f"{type(pairs).__name__}")
        if max_size is not None:
            check_int(max_size, "max_size", minimum=self.window)
        world = check_int(world, "world", minimum=1)
        if not 0 <= check_int(rank, "rank") < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        self.pairs, self.device, self.max_size = pairs, torch.device(device), max_size
        self.lpips, self.rank, self.world = lpips, rank, world
        self.names = ["psnr", "ssim", "psnr_y", "ssim_y"] + ["lpips"] * (lpips is not None)

    @torch.no_grad()
    def metrics(self, output: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        r"""The scores of one batch, averaged over it.

        Args:
            output: derained images :math:`(B, 3, H, W)`, clamped here to :math:`[0, 1]`.
            clean: the clean images, same shape, in :math:`[0, 1]`.

        Returns:
            Score name (see :attr:`names`) to its mean over the batch.
        """
        from rainkit.metrics import score

        output, scores = output.clamp(0, 1), {}
        for suffix, convention in (("", "rgb"), ("_y", "matlab-y")):
            for name, value in score(output, clean, convention, data_range=1.0).items():
                scores[name + suffix] = value.mean().item()  # type: ignore[union-attr]
        if self.lpips is not None:
            scores["lpips"] = self.lpips(output, clean).mean().item()
        return scores

    @torch.no_grad()
    def score(self, derain: Callable[[torch.Tensor], torch.Tensor], keep: int = 0
              ) -> tuple[dict[str, float], list[tuple[str, torch.Tensor]]]:
        r"""Mean scores of ``derain(rainy)`` over the pairs, and up to ``keep`` sample grids.

        Args:
            derain: a network in eval mode, or any function from :math:`(1, 3, H, W)` rainy
                images on :attr:`device` to derained ones of the same shape.
            keep: how many pairs (the first of this process's share) to return as grids.

        Returns:
            ``(scores, grids)``: score name to its mean over all pairs (of all processes), and
            ``(name, grid)`` pairs whose grid is rainy, derained and clean side by side,
            :math:`(3, H, 3W)` on the CPU.

        Raises:
            ValueError: if a pair is smaller than the SSIM window (11 pixels) after cropping.
        """
        totals, grids, count = dict.fromkeys(self.names, 0.0), [], 0
        for index in range(self.rank, len(self.pairs), self.world):
            rainy, clean, name = self.pairs[index]
            rainy, clean = (centre_crop(t, self.max_size)[None].to(self.device)
                            for t in (rainy, clean))
            if min(clean.shape[-2:]) < self.window:
                raise ValueError(f"validation pair {name!r} is {tuple(clean.shape[-2:])} "
                                 f"pixels, smaller than the SSIM window ({self.window})")
            output = derain(rainy).float().clamp(0, 1)
            for key, value in self.metrics(output, clean).items():
                totals[key] += value
            count += 1
            if len(grids) < keep:
                grids.append((name, torch.cat([rainy[0], output[0], clean[0]], dim=-1).cpu()))
        totals = all_reduce_sum({**totals, "_count": float(count)}, self.device)
        n = max(totals.pop("_count"), 1.0)
        return {k: v / n for k, v in totals.items()}, grids

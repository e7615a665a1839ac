"""A run folder that a new run will not silently take over, and a CSV log that survives kills."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rainkit._validation import check_int, check_path
from rainkit.checkpoint import save_checkpoint
from rainkit.data.io import save_image

__all__ = ["append_log_row", "claim_run_dir", "record_epoch", "truncate_log"]


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


def record_epoch(folder: str | os.PathLike[str], epoch: int, model: nn.Module, *,
                 model_name: str, model_kwargs: Mapping[str, Any] | None = None,
                 log_row: Mapping[str, Any], training: Mapping[str, Any],
                 metadata: Mapping[str, Any] | None = None,
                 samples: Iterable[tuple[str, torch.Tensor]] = (), best: bool = False) -> None:
    """Write one finished epoch into a run folder, in the order that survives a kill.

    1. ``samples/epoch<NNN>_<name>.png`` for each sample image;
    2. a row ``{"epoch": epoch, **log_row}`` of ``log.csv`` (:func:`append_log_row`);
    3. ``best.pt`` when ``best``: the weights and metadata, without training state;
    4. ``last.pt``: the weights, ``training`` and metadata.

    Checkpoints are written atomically (:func:`rainkit.checkpoint.save_checkpoint`), so a kill
    or a full disk at any point leaves ``last.pt`` at this epoch or the one before, never torn;
    a run resumed from the one before redoes this epoch, and :func:`truncate_log` drops its
    earlier log row. ``metadata`` is stored with ``"epoch"`` added.

    Args:
        folder: the run folder (created if needed).
        epoch: the epoch just finished, counted from 1.
        model: the network (unwrapped from DDP).
        model_name: its name in :data:`rainkit.nn.MODELS`.
        model_kwargs: its constructor's keyword arguments.
        log_row: the epoch's numbers for ``log.csv`` (the same keys every epoch).
        training: what resuming needs, as from :func:`training_state`.
        metadata: scores, settings and the like (JSON-like values).
        samples: ``(name, image)`` pairs, images :math:`(3, H, W)` in :math:`[0, 1]`.
        best: whether this epoch is the best so far (then ``best.pt`` is written too).

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``epoch`` is below 1, or the model holds non-finite weights (nothing of
            this epoch's checkpoints is written then).
        OSError: if a file cannot be written; the message names it, and the previous version
            of a checkpoint is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> net = torch.nn.Conv2d(3, 3, 1)
        >>> record_epoch(run, 1, net, model_name="conv", log_row={"loss": 0.5},
        ...              training={"epoch": 1}, best=True)
        >>> sorted(p.name for p in run.iterdir())
        ['best.pt', 'last.pt', 'log.csv']
    """
    epoch = check_int(epoch, "epoch", minimum=1)
    if not isinstance(best, bool):
        raise TypeError(f"best must be a bool, got {type(best).__name__}")
    if not isinstance(log_row, Mapping):
        raise TypeError(f"log_row must be a mapping of column to value, got "
                        f"{type(log_row).__name__}")
    folder = check_path(folder, "folder")
    for name, image in samples:
        save_image(image, folder / "samples" / f"epoch{epoch:03d}_{name}.png")
    append_log_row(folder / "log.csv", {"epoch": epoch, **log_row})
    stored = {"epoch": epoch, **(metadata or {})}
    checkpoints = [(folder / "best.pt", None)] if best else []
    for path, state in [*checkpoints, (folder / "last.pt", training)]:
        try:
            save_checkpoint(path, model, model_name=model_name, model_kwargs=model_kwargs,
                            training=state, metadata=stored)
        except OSError as err:
            raise OSError(err.errno, f"could not write {path}: {err.strerror or err}; the "
                          f"previous {path.name}, if any, is unchanged") from err

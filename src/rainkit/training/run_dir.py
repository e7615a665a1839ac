"""A run folder that a new run will not silently take over, and a CSV log that survives kills."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rainkit._checks import (
    check_bool,
    check_int,
    check_mapping,
    check_output_path,
    check_path,
)
from rainkit._files import atomic_write_text
from rainkit.checkpoint import prepare_checkpoint, write_checkpoint
from rainkit.data.io import save_image

__all__ = ["append_log_row", "claim_run_dir", "record_epoch", "truncate_log"]


def _check_names(value: object, name: str) -> list[str]:
    """``value`` as a list of non-empty relative names (or glob patterns) inside a folder."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a sequence of names, got the string {value!r}")
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of names, got {type(value).__name__}")
    names = list(value)
    for item in names:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold str names, got {type(item).__name__} {item!r}")
        if not item or Path(item).is_absolute() or ".." in Path(item).parts:
            raise ValueError(f"{name} must hold non-empty names relative to the folder, without "
                             f"'..', got {item!r}")
    return names


def _read_header(path: Path) -> list[str] | None:
    """The columns of an existing CSV log (``None`` for an empty file), or a clear error."""
    try:
        with open(path, newline="") as handle:
            return next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"path {path} is not a CSV log ({err})") from None


def _check_log_path(value: object) -> Path:
    path = check_path(value, "path")
    if isinstance(value, (str, os.PathLike)) and os.fspath(value) == "":  # Path("") is "."
        raise ValueError("path must not be empty (it would mean the current folder)")
    if path.is_dir():
        raise ValueError(f"path must be a CSV file, got the folder {path}")
    return path


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
        TypeError: if ``folder`` is not a path, ``outputs`` or ``clear`` is not a sequence of
            strings (a single string included), or ``overwrite`` or ``remove`` is not a bool.
        ValueError: if ``folder`` is a file or empty, or a name of ``outputs`` or ``clear`` is
            empty, absolute or goes up with ``..`` (it would reach outside ``folder``).
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
    folder = check_output_path(folder, "folder", folder=True)
    outputs, clear = _check_names(outputs, "outputs"), _check_names(clear, "clear")
    overwrite, remove = check_bool(overwrite, "overwrite"), check_bool(remove, "remove")
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
        TypeError: if ``path`` is not a path or ``row`` is not a mapping.
        ValueError: if ``row`` is empty, ``path`` is empty or a folder, or the file at ``path``
            is not a CSV log or has other columns than ``row`` (nothing is written then).
        FileNotFoundError: if the folder of ``path`` does not exist.

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
    path = _check_log_path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path {path}: the folder {path.parent} does not exist")
    new = not path.exists() or path.stat().st_size == 0  # an empty file gets the header too
    if not new:
        header = _read_header(path)
        if header != [str(key) for key in row]:
            raise ValueError(f"path {path} is a log with the columns {header}, this row has "
                             f"{list(row)}")
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
        TypeError: if ``path`` is not a path, ``epoch`` is not an ``int`` or ``columns`` is not
            a sequence of names (a string included).
        ValueError: if ``epoch`` is negative, ``key`` is not in ``columns``, ``path`` is empty
            or a folder, the file is not a CSV log, or the log's columns differ from
            ``columns`` (the message lists both; the file is unchanged).

    Example:
        >>> import tempfile, pathlib
        >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
        >>> for epoch in (1, 2, 3):
        ...     append_log_row(log, {"epoch": epoch, "loss": 1 / epoch})
        >>> truncate_log(log, 2, ["epoch", "loss"])
        >>> log.read_text().splitlines()
        ['epoch,loss', '1,1.0', '2,0.5']
    """
    path = _check_log_path(path)
    check_int(epoch, "epoch", minimum=0)
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise TypeError(f"columns must be a sequence of names, got {type(columns).__name__} "
                        f"{columns!r}")
    columns = list(columns)
    if key not in columns:
        raise ValueError(f"key must be one of the columns {', '.join(map(str, columns))}, got "
                         f"{key!r}")
    if not path.exists():
        return
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [r for r in reader if None not in r.values() and str(r.get(key)).isdigit()
                    and int(r[key]) <= epoch]
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"path {path} is not a CSV log ({err})") from None
    if reader.fieldnames not in (None, columns):
        raise ValueError(f"path {path} has the columns {', '.join(reader.fieldnames)}, this run "
                         f"would add {', '.join(columns)}")
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


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

    Every argument is checked and the weights scanned for non-finite values once, before
    anything is written (:func:`rainkit.checkpoint.prepare_checkpoint`); both checkpoints are
    written from that one prepared dict, atomically
    (:func:`rainkit.checkpoint.write_checkpoint`), so a kill or a full disk at any point leaves
    ``last.pt`` at this epoch or the one before, never torn;
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
        TypeError: if an argument has the wrong type (checked before anything is written).
        ValueError: if ``epoch`` is below 1, ``folder`` is empty or a file, a sample is not an
            image (the message names ``samples[i]``), or the model holds non-finite weights
            (nothing of this epoch is written then).
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
    best = check_bool(best, "best")
    log_row = check_mapping(log_row, "log_row")
    folder = check_output_path(folder, "folder", folder=True)
    training = check_mapping(training, "training")  # required here, optional in a checkpoint
    metadata = {"epoch": epoch, **check_mapping(metadata, "metadata", optional=True)}
    # every check and the scan for non-finite weights, once for best.pt and last.pt
    prepared = prepare_checkpoint(model, model_name=model_name, model_kwargs=model_kwargs,
                                  training=training, metadata=metadata)
    if isinstance(samples, str) or not isinstance(samples, Iterable):
        raise TypeError(f"samples must be a sequence of (name, image) pairs, got "
                        f"{type(samples).__name__}")
    samples = list(samples)
    for index, sample in enumerate(samples):
        if not (isinstance(sample, (tuple, list)) and len(sample) == 2
                and isinstance(sample[0], str) and isinstance(sample[1], torch.Tensor)):
            raise TypeError(f"samples[{index}] must be a (str name, tensor image) pair, got "
                            f"{sample!r:.80}")
    folder.mkdir(parents=True, exist_ok=True)
    for index, (name, image) in enumerate(samples):
        try:
            save_image(image, folder / "samples" / f"epoch{epoch:03d}_{name}.png")
        except (TypeError, ValueError) as err:
            raise type(err)(f"samples[{index}] ({name!r}): {err}") from None
    append_log_row(folder / "log.csv", {"epoch": epoch, **log_row})
    checkpoints = [(folder / "best.pt", {**prepared, "training": {}})] if best else []
    for path, state in [*checkpoints, (folder / "last.pt", prepared)]:
        try:
            write_checkpoint(path, state)
        except OSError as err:
            raise OSError(err.errno, f"could not write {path}: {err.strerror or err}; the "
                          f"previous {path.name}, if any, is unchanged") from err

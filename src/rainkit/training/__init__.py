"""Training-loop plumbing that never loses work: run folders, CSV logs, resume, devices, DDP.

One topic per module: :mod:`~rainkit.training.run_dir` (the run folder and its log),
:mod:`~rainkit.training.resume` (settings and states of a resumed run),
:mod:`~rainkit.training.devices` (device choice, ``torchrun`` session, sums over processes) and
:mod:`~rainkit.training.validation` (validation scores). Import everything from here.
"""

from rainkit.training.devices import all_reduce_sum, distributed_session, pick_device
from rainkit.training.resume import merge_settings, restore_training_state, training_state
from rainkit.training.run_dir import append_log_row, claim_run_dir, record_epoch, truncate_log
from rainkit.training.validation import Validator, centre_crop, format_scores

__all__ = [
    "Validator",
    "all_reduce_sum",
    "append_log_row",
    "centre_crop",
    "claim_run_dir",
    "distributed_session",
    "format_scores",
    "merge_settings",
    "pick_device",
    "record_epoch",
    "restore_training_state",
    "training_state",
    "truncate_log",
]

"""RESCAN (Li et al., ECCV 2018): the network, the released checkpoints (BRN's re-trainings)."""

from __future__ import annotations

import torch

from rainkit.nn.families.rescan.network import RESCAN
from rainkit.nn.registry import (
    Family,
    PretrainedWeights,
    PublishedScore,
    StateDict,
    register_family,
)

__all__ = ["FAMILY", "RESCAN", "convert_authors_state"]

_GATES = ("z", "r", "n")


def convert_authors_state(state: StateDict) -> StateDict:
    """RESCAN's keys (``config/model.py``) to rainkit's :class:`RESCAN`.

    ``rnns.K.conv_x{z,r,n}`` are stacked into ``units.K.x_gates`` (order z, r, n),
    ``rnns.K.conv_h{z,r}`` into ``units.K.h_gates``, ``rnns.K.conv_hn`` becomes
    ``units.K.h_candidate``; the SE layers ``*.se.fc.{0,2}`` become ``*.se.fc{1,2}``;
    ``dec.0``, ``dec.1``, ``dec.3`` become ``decoder.conv``, ``decoder.se``, ``decoder.out``.
    Keys it does not know are kept, so that strict loading names them. (The ``net`` wrapper is
    removed before, by the reader.)

    Args:
        state: the authors' state dict.

    Returns:
        A new state dict with rainkit's keys.
    """
    state = dict(state)
    out: StateDict = {}
    units = sorted({int(k.split(".")[1]) for k in state
                    if k.startswith("rnns.") and k.split(".")[1].isdigit()})
    for k in units:
        old, new = f"rnns.{k}.", f"units.{k}."
        for suffix in ("weight", "bias"):
            x_keys = [f"{old}conv_x{g}.{suffix}" for g in _GATES]
            if all(key in state for key in x_keys):
                out[f"{new}x_gates.{suffix}"] = torch.cat([state.pop(key) for key in x_keys])
            h_keys = [f"{old}conv_h{g}.{suffix}" for g in _GATES[:2]]
            if all(key in state for key in h_keys):
                out[f"{new}h_gates.{suffix}"] = torch.cat([state.pop(key) for key in h_keys])
            if f"{old}conv_hn.{suffix}" in state:
                out[f"{new}h_candidate.{suffix}"] = state.pop(f"{old}conv_hn.{suffix}")
    renames = {"dec.0.": "decoder.conv.", "dec.1.": "decoder.se.", "dec.3.": "decoder.out.",
               "rnns.": "units."}
    for key, value in state.items():
        new_key = key
        for old, new in renames.items():
            if key.startswith(old):
                new_key = new + key[len(old):]
                break
        new_key = new_key.replace(".se.fc.0.", ".se.fc1.").replace(".se.fc.2.", ".se.fc2.")
        out[new_key] = value
    return out


_BASE = "https://github.com/csdwren/RecDerain/raw/master/logs/"
_SOURCE = ("Ren et al., BRN (TIP 2020), tables in github.com/csdwren/RecDerain results/3.jpg "
           "and results/4.jpg (commit 5b2ad01d)")
_NOTE = ("Re-trained by the BRN authors with RESCAN's code and default settings (20,000 steps), "
         "released in csdwren/RecDerain, which has no licence file: rainkit does not ship or "
         "redistribute it. RESCAN's code is MIT-licensed.")
_PARAMS = 149823


def _entry(name: str, folder: str, sha256: str, training_set: str,
           published: tuple[PublishedScore, ...], notes: str = "") -> PretrainedWeights:
    return PretrainedWeights(
        name=name, model="rescan", url=f"{_BASE}{folder}/RESCAN/latest", sha256=sha256,
        training_set=training_set, num_params=_PARAMS, convert=convert_authors_state,
        published=published, notes=f"{_NOTE} {notes}".strip(),
    )


#: The RESCAN family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="rescan",
    title="RESCAN (Li et al., ECCV 2018)",
    paper=("X. Li, J. Wu, Z. Lin, H. Liu, H. Zha, \"Recurrent Squeeze-and-Excitation Context "
           "Aggregation Net for Single Image Deraining\", ECCV 2018"),
    repository=("https://github.com/XiaLiPKU/RESCAN (commit e28d1d7c); weights: "
                "https://github.com/csdwren/RecDerain (commit 5b2ad01d)"),
    licence=("code: MIT (Copyright (c) 2018 XiaLiPKU); weights: csdwren/RecDerain has no "
             "licence file, they are not redistributed by rainkit"),
    models=("rescan",),
    tiling=("the squeeze-and-excitation gates average over the whole image, so "
            "`rainkit derain --tile` computes each tile's gates from the tile and its margin "
            "(64 pixels unless --margin says otherwise) and the result differs slightly from "
            "the whole-image output (at most 0.017 with 48-pixel tiles and a 32-pixel margin "
            "on a 96 x 128 image)"),
    input_note=("RGB in [0, 1] (the authors' code reads BGR with cv2.imread: the network flips "
                "the channels in and out); predicts the rain layer, derained = input - R_4"),
    weights=(
        _entry("rescan-rain200h", "RainHeavy",
               "237e29616891f599334c236def92ce216ef9662ca1f77437643ac4b1987c58a3",
               "Rain200H (RainHeavy*: 1,800 pairs)",
               (PublishedScore("Rain200H", 28.02, 0.862, "prenet-y", _SOURCE, protocol="C"),)),
        _entry("rescan-rain200l", "RainLight",
               "49bfd63951fc6fde251de82db9af42ef995db9d00113a585cd171c51fb533017",
               "Rain200L (RainLight*: 1,800 pairs)",
               (PublishedScore("Rain200L", 38.43, 0.982, "prenet-y", _SOURCE, protocol="C"),
                PublishedScore("SPA-Data", 34.73, 0.937, "prenet-y",
                               _SOURCE + ", generalisation table (trained on Rain200L)")),
               notes=("The same file is RecDerain's logs/generalization_model/RESCAN/latest, "
                      "scored on SPA-Data without re-training.")),
    ),
))

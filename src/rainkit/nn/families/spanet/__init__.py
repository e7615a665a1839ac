"""SPANet (Wang et al., CVPR 2019): the network, the released checkpoints, their keys."""

from __future__ import annotations

import torch

from rainkit.nn.blocks.irnn import DIRECTIONS
from rainkit.nn.families.spanet.network import SPANet, SpatialAttentiveModule
from rainkit.nn.registry import (
    Family,
    PretrainedWeights,
    PublishedScore,
    StateDict,
    register_family,
)

__all__ = ["FAMILY", "SPANet", "SpatialAttentiveModule", "convert_authors_state"]

#: The authors' direction attention: computed, then discarded by their code (no effect).
DISCARDED_PREFIX = "SAM1.attention_layer."


def convert_authors_state(state: StateDict) -> StateDict:
    """SPANet's keys (``SPANet.py``) to rainkit's :class:`SPANet`.

    ``conv_in.0`` -> ``head``; ``res_blockK.group1.convJ`` -> ``blocks.{K-1}.convJ``;
    ``SAM1.*`` -> ``sam.*``, where each IRNN's four 1x1 depthwise convolutions
    ``{up,right,down,left}_weight.{weight,bias}`` (:math:`(C, 1, 1, 1)` and :math:`(C,)`) are
    stacked into ``weight`` and ``bias`` of shape :math:`(4, C)` (order up, right, down,
    left); ``conv_out.0`` -> ``tail``. The direction attention ``SAM1.attention_layer.*``,
    whose result the authors' code discards, is dropped. Keys it does not know are kept, so
    that strict loading names them. (The ``net`` wrapper and the ``module.`` prefix are
    removed before, by the reader.)

    Args:
        state: the authors' state dict.

    Returns:
        A new state dict with rainkit's keys.
    """
    state = {k: v for k, v in state.items() if not k.startswith(DISCARDED_PREFIX)}
    out: StateDict = {}
    for irnn in ("irnn1", "irnn2"):
        for param in ("weight", "bias"):
            keys = [f"SAM1.{irnn}.{d}_weight.{param}" for d in DIRECTIONS]
            if all(k in state for k in keys):
                out[f"sam.{irnn}.{param}"] = torch.stack([state.pop(k).flatten() for k in keys])
    for key, value in state.items():
        module, _, rest = key.partition(".")
        new_key = key
        if module == "conv_in" and rest.startswith("0."):
            new_key = f"head.{rest[2:]}"
        elif module == "conv_out" and rest.startswith("0."):
            new_key = f"tail.{rest[2:]}"
        elif module == "SAM1":
            new_key = f"sam.{rest}"
        elif (module.startswith("res_block") and module[len("res_block"):].isdigit()
              and rest.startswith("group1.")):
            new_key = f"blocks.{int(module[len('res_block'):]) - 1}.{rest[len('group1.'):]}"
        out[new_key] = value
    return out


_RECDERAIN = "https://github.com/csdwren/RecDerain/raw/master/logs/"
_BRN_SOURCE = ("Ren et al., BRN (TIP 2020), tables in github.com/csdwren/RecDerain "
               "results/3.jpg and results/4.jpg (commit 5b2ad01d)")
_BRN_NOTE = ("Re-trained by the BRN authors with SPANet's code (40,000 steps), released in "
             "csdwren/RecDerain, which has no licence file: rainkit does not ship or "
             "redistribute it. Its attention mask is constant on natural images (see the "
             "family's docs page).")
#: Network parameters; the files hold 283,716 tensors' worth (7,012 of a discarded layer).
_PARAMS = 276704

#: The SPANet family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="spanet",
    title="SPANet (Wang et al., CVPR 2019)",
    paper=("T. Wang, X. Yang, K. Xu, S. Chen, Q. Zhang, R. W. H. Lau, \"Spatial Attentive "
           "Single-Image Deraining with a High Quality Real Rain Dataset\", CVPR 2019"),
    repository=("https://github.com/stevewongv/SPANet (commit f0d982d0); Rain200 weights: "
                "https://github.com/csdwren/RecDerain (commit 5b2ad01d)"),
    licence=("code and spanet-spa: BSD-3-style (SPANet's License.txt); the Rain200 weights "
             "live in csdwren/RecDerain, which has no licence file; rainkit redistributes none"),
    models=("spanet",),
    tiling=("the IRNN scans of the attention module run along whole rows and columns, so "
            "`rainkit derain --tile` computes each tile's attention mask from the tile and its "
            "margin (64 pixels unless --margin says otherwise) and the result differs from "
            "the whole-image output where the mask varies (at most 0.033 for spanet-spa with "
            "48-pixel tiles and a 32-pixel margin on a 96 x 128 image)"),
    input_note=("RGB in [0, 1] (the authors' code reads BGR with cv2.imread: the network flips "
                "the channels in and out); predicts the clean image directly"),
    weights=(
        PretrainedWeights(
            name="spanet-spa", model="spanet",
            url="https://github.com/stevewongv/SPANet/raw/master/model/latest",
            sha256="3b5d58d0f4569004a0d2dc6f4373463bd60991fc8a04c061361357cf012e5eb0",
            training_set="SPA-Data (real rain, Wang et al.; stopped at 40,000 steps)",
            num_params=_PARAMS, convert=convert_authors_state,
            published=(PublishedScore(
                "SPA-Data", 38.53, 0.9875, "spanet-rgb",
                "Wang et al., github.com/stevewongv/SPANet README (\"PSNR 38.02 -> 38.53, "
                "SSIM 0.9868 -> 0.9875\", computed with skimage.measure on 1,000 test pairs)",
                protocol="C"),),
            notes=("Released by the SPANet authors in their repository (BSD-3-style licence); "
                   "rainkit does not ship it. Its attention mask varies over the image."),
        ),
        PretrainedWeights(
            name="spanet-rain200h", model="spanet",
            url=f"{_RECDERAIN}RainHeavy/SPANet/step_40000",
            sha256="53c8c823c7138a7bb3c73db1be38a92bdc78e20bd206bbc202b6dfaa7d8e2189",
            training_set="Rain200H (RainHeavy*: 1,800 pairs)", num_params=_PARAMS,
            convert=convert_authors_state,
            published=(PublishedScore("Rain200H", 26.59, 0.869, "prenet-y", _BRN_SOURCE,
                                      protocol="C"),),
            notes=_BRN_NOTE,
        ),
        PretrainedWeights(
            name="spanet-rain200l", model="spanet",
            url=f"{_RECDERAIN}RainLight/SPANet/latest",
            sha256="c6c6c10c1371fd31fd620143e79cb786fb02d984c538355372cbeeca00730192",
            training_set="Rain200L (RainLight*: 1,800 pairs)", num_params=_PARAMS,
            convert=convert_authors_state,
            published=(PublishedScore("Rain200L", 36.13, 0.975, "prenet-y", _BRN_SOURCE,
                                      protocol="C"),
                       PublishedScore("SPA-Data", 35.26, 0.945, "prenet-y",
                                      _BRN_SOURCE + ", generalisation table (trained on "
                                      "Rain200L)")),
            notes=(f"{_BRN_NOTE} The same file is RecDerain's "
                   "logs/generalization_model/SPANet/latest, scored on SPA-Data without "
                   "re-training."),
        ),
    ),
))

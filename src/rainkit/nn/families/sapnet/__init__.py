"""SAPNet (Zheng et al., WACV 2022): the network, the authors' released checkpoint, its keys."""

from __future__ import annotations

import torch

from rainkit.nn.families.sapnet.network import SAPNet
from rainkit.nn.registry import Family, PretrainedWeights, StateDict, register_family

__all__ = ["FAMILY", "SAPNet", "convert_authors_state"]

_LSTM = ("conv_i", "conv_f", "conv_g", "conv_o")


def convert_authors_state(state: StateDict) -> StateDict:
    """SAPNet's keys (``Modeling/network.py``) to rainkit's :class:`SAPNet`.

    ``conv0.0`` -> ``head``; the LSTM gates ``conv_{i,f,g,o}.0`` are stacked into
    ``lstm.gates`` (order i, f, g, o); ``res_convK.{0,3}`` -> ``blocks.{K-1}.conv{1,2}``;
    the CRA layers ``res_convK.{1,4}`` -> ``blocks.{K-1}.att{1,2}`` with ``conv_du.0``,
    ``conv_du.2`` and ``conv_1_1`` (1x1 convolutions) as the linear layers ``fc1``, ``fc2``
    and ``skip``; ``conv.0`` -> ``tail``. Keys it does not know are kept, so that strict
    loading names them. (The ``module.`` prefix is removed before, by the reader.)

    Args:
        state: the authors' state dict.

    Returns:
        A new state dict with rainkit's keys.
    """
    state = dict(state)
    out: StateDict = {}
    for suffix in ("weight", "bias"):
        keys = [f"{g}.0.{suffix}" for g in _LSTM]
        if all(k in state for k in keys):
            out[f"lstm.gates.{suffix}"] = torch.cat([state.pop(k) for k in keys])
    attention = {"conv_du.0.": "fc1.", "conv_du.2.": "fc2.", "conv_1_1.": "skip."}
    for key, value in state.items():
        module, _, rest = key.partition(".")
        new_key = key
        if module == "conv0" and rest.startswith("0."):
            new_key = f"head.{rest[2:]}"
        elif module == "conv" and rest.startswith("0."):
            new_key = f"tail.{rest[2:]}"
        elif module.startswith("res_conv") and module[len("res_conv"):].isdigit():
            block = int(module[len("res_conv"):]) - 1
            layer, _, param = rest.partition(".")
            if layer in ("0", "3"):
                new_key = f"blocks.{block}.conv{1 if layer == '0' else 2}.{param}"
            elif layer in ("1", "4"):
                for old, new in attention.items():
                    if param.startswith(old) and value.dim() == 4:
                        new_key = f"blocks.{block}.att{1 if layer == '1' else 2}.{new}" \
                                  f"{param[len(old):]}"
                        value = value.flatten(1)
                        break
        out[new_key] = value
    return out


#: The SAPNet family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="sapnet",
    title="SAPNet (Zheng et al., WACV 2022)",
    paper=("S. Zheng, C. Lu, Y. Wu, G. Gupta, \"SAPNet: Segmentation-Aware Progressive Network "
           "for Perceptual Contrastive Deraining\", WACV 2022 Workshops"),
    repository="https://github.com/ShenZheng2000/SAPNet-for-image-deraining (commit 47215120)",
    licence="MIT (Copyright (c) 2021 ShenZheng2000), code and released weights",
    models=("sapnet",),
    tiling=("the channel-attention (CRA) gates average over the whole image, so "
            "`rainkit derain --tile` computes each tile's gates from the tile and its margin "
            "(64 pixels unless --margin says otherwise) and the result differs slightly from "
            "the whole-image output (at most 0.005 with 48-pixel tiles and a 32-pixel margin "
            "on a 96 x 128 image)"),
    input_note=("RGB in [0, 1] (the authors' test.py converts cv2's BGR to RGB); adds its "
                "output to the input (predicts the negative rain layer)"),
    weights=(
        PretrainedWeights(
            name="sapnet-rain100h", model="sapnet",
            url=("https://github.com/ShenZheng2000/SAPNet-for-image-deraining/raw/main/logs/"
                 "SAPNet/Model11/net_latest.pth"),
            sha256="807bb16685280a493236f3e5fa804274198044ad838b5cc060bf66af03a259cb",
            training_set=("RainTrainH (1,254 pairs; not stated by the authors: inferred from "
                          "option.py's defaults and main.sh)"),
            num_params=180483,
            # Not in the file: the authors' test.py builds SAPNet(6, use_dilation=True).
            model_kwargs={"stages": 6, "dilations": (1, 2, 4, 8, 16)},
            convert=convert_authors_state,
            notes=("Released by the SAPNet authors (MIT licence); rainkit does not ship it. The "
                   "repository publishes no table and no evaluation script for it, and this "
                   "file does not closely reproduce the README's figure, so no published score "
                   "is attached. The dilations (1, 2, 4, 8, 16) are not stored in the file."),
        ),
    ),
))

"""PReNet (Ren et al., CVPR 2019): the networks, the authors' released checkpoints, their keys."""

from __future__ import annotations

import functools

import torch

from rainkit.nn.families.prenet.network import PRN, PRNR, PReNet, PReNetGRU, PReNetR, PReNetReal
from rainkit.nn.registry import (
    Family,
    PretrainedWeights,
    PublishedScore,
    StateDict,
    register_family,
)

__all__ = [
    "FAMILY",
    "PRN",
    "PRNR",
    "PReNet",
    "PReNetGRU",
    "PReNetR",
    "PReNetReal",
    "convert_authors_state",
]


def convert_authors_state(state: StateDict, model: str = "prenet") -> StateDict:
    """The PReNet authors' keys (``conv0.0``, ``res_conv1.0``, ``conv_i.0``, ...) to rainkit's.

    ``conv0`` -> ``head.0``; ``res_convK.{0,2}`` -> ``blocks.{K-1}.body.{0,2}``; ``conv.0`` ->
    ``tail`` (``out_conv`` for ``prenet_real``); the LSTM gates ``conv_i, conv_f, conv_g,
    conv_o`` are stacked into ``lstm.gates``; the GRU's ``conv_z, conv_b`` into ``gru.gates``
    and ``conv_g`` (over :math:`[r h, x]`) into ``gru.candidate`` (over :math:`[x, r h]`, so its
    input halves swap). Keys it does not know are kept as they are, so that strict loading
    names them. (The ``module.`` prefix is removed before, by the reader.)

    Args:
        state: the authors' state dict.
        model: the rainkit network the file is loaded into (a name of
            :data:`rainkit.nn.MODELS`).

    Returns:
        A new state dict with rainkit's keys.
    """
    state = dict(state)
    out: StateDict = {}
    lstm = ("conv_i", "conv_f", "conv_g", "conv_o")
    gru = ("conv_z", "conv_b")
    recurrent = "gru" if model == "prenet_gru" else "lstm"
    for suffix in ("weight", "bias"):
        if recurrent == "lstm" and all(f"{n}.0.{suffix}" in state for n in lstm):
            out[f"lstm.gates.{suffix}"] = torch.cat([state.pop(f"{n}.0.{suffix}") for n in lstm])
        if recurrent == "gru" and all(f"{n}.0.{suffix}" in state for n in gru):
            out[f"gru.gates.{suffix}"] = torch.cat([state.pop(f"{n}.0.{suffix}") for n in gru])
            candidate = state.pop(f"conv_g.0.{suffix}", None)
            if candidate is not None:
                if suffix == "weight":
                    hidden = candidate.shape[0]
                    candidate = torch.cat([candidate[:, hidden:], candidate[:, :hidden]], dim=1)
                out[f"gru.candidate.{suffix}"] = candidate
    tail = "out_conv" if model == "prenet_real" else "tail"
    for key, value in state.items():
        module, _, rest = key.partition(".")
        if module == "conv0":
            out[f"head.{rest}"] = value
        elif module.startswith("res_conv") and module[len("res_conv"):].isdigit():
            out[f"blocks.{int(module[len('res_conv'):]) - 1}.body.{rest}"] = value
        elif module == "conv" and rest.startswith("0."):
            out[f"{tail}.{rest[2:]}"] = value
        else:
            out[key] = value
    return out


_SOURCE = ("Ren et al., CVPR 2019; github.com/csdwren/PReNet README "
           "(commit 6d908d1e3c7ff5c26fee624112297ad1c8603ca7)")
_BASE = "https://github.com/csdwren/PReNet/raw/master/logs/"
_NOTE = ("Released by the PReNet authors in their repository, which has no licence file: "
         "rainkit does not ship or redistribute it.")
_TRAIN = {
    "rain100h": "RainTrainH (1,254 pairs: Yang et al.'s 1,800 minus 546 that share a background "
                "with Rain100H)",
    "rain100l": "RainTrainL (200 pairs, Yang et al.)",
    "rain1400": "Rain12600 (900 scenes x 14 rain types, Fu et al.)",
}


def _entry(name: str, model: str, folder: str, sha256: str, num_params: int,
           score: tuple[str, float, float] | None, **kwargs: object) -> PretrainedWeights:
    trained_on = folder.split("/")[0].lower()
    published: tuple[PublishedScore, ...] = ()
    if score is not None:
        published = (PublishedScore(score[0], score[1], score[2], "matlab-y", _SOURCE,
                                    protocol="A"),)
    return PretrainedWeights(
        name=name, model=model, url=f"{_BASE}{folder}", sha256=sha256, num_params=num_params,
        training_set=_TRAIN.get(trained_on, "real rainy images (not stated by the authors)"),
        model_kwargs=kwargs, convert=functools.partial(convert_authors_state, model=model),
        published=published, notes=_NOTE,
    )


#: The PReNet family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="prenet",
    title="PReNet (Ren et al., CVPR 2019)",
    paper=("D. Ren, W. Zuo, Q. Hu, P. Zhu, D. Meng, \"Progressive Image Deraining Networks: A "
           "Better and Simpler Baseline\", CVPR 2019"),
    repository="https://github.com/csdwren/PReNet (commit 6d908d1e)",
    licence="no licence file in the authors' repository: weights are the authors', not "
            "redistributed by rainkit",
    models=("prenet", "prenet_r", "prn", "prn_r", "prenet_gru", "prenet_real"),
    input_note=("RGB in [0, 1]; the synthetic-rain networks add their output to the input "
                "(predict the negative rain layer); the real-rain Generator_lstm predicts the "
                "clean image"),
    weights=(
        _entry("prenet-rain100h", "prenet", "Rain100H/PReNet6/net_latest.pth",
               "127c0098787c5272f1f8583f6c5202e7ef674f750cd145a1691912a6d9e96210", 168963,
               ("Rain100H", 29.46, 0.899), stages=6),
        _entry("prenet_r-rain100h", "prenet_r", "Rain100H/PReNet6_r/net_latest.pth",
               "ece8127c651cf49026d998fa36857cb9d462c92cf535b640a377fc025f765b5f", 94979,
               ("Rain100H", 28.98, 0.892), stages=6),
        _entry("prn-rain100h", "prn", "Rain100H/PRN6/net_latest.pth",
               "f1d56a7df0851eb087652663781d3f34c4c37a4c7ddd9a3f0802abbede1a06c2", 95107,
               ("Rain100H", 28.07, 0.884), stages=6),
        _entry("prn_r-rain100h", "prn_r", "Rain100H/PRN6_r/net_latest.pth",
               "99242ce096c9c617bd529a5e189797e8955a4b8611d355974c7c1c64a18b9074", 21123,
               ("Rain100H", 27.43, 0.874), stages=6),
        _entry("prenet-rain100l", "prenet", "Rain100L/PReNet6/net_latest.pth",
               "cb9b743bb33cf6e5c56ba45f8ade93add46266dea9fa582e1934dc5eed942333", 168963,
               ("Rain100L", 37.48, 0.979), stages=6),
        _entry("prn-rain100l", "prn", "Rain100L/PRN6/net_latest.pth",
               "ed4be5b78f76dcec5c781e1655dee48c2a90b56993de555945d72e31848aea99", 95107,
               ("Rain100L", 36.99, 0.977), stages=6),
        _entry("prenet-rain1400", "prenet", "Rain1400/PReNet6/net_latest.pth",
               "d5744dc2e35d73187a3f34936b3413884d293277073ffb78b961a78e65337879", 168963,
               ("Rain1400", 32.60, 0.946), stages=6),
        _entry("prn-rain1400", "prn", "Rain1400/PRN6/net_latest.pth",
               "c6620860a51b54afec0c1eebe412f0f1ca00128100f5b23c13758605206a0bf2", 95107,
               ("Rain1400", 31.69, 0.941), stages=6),
        _entry("prenet_real-1", "prenet_real", "real/PReNet1.pth",
               "eba0c0ed941565abce9c61ceb8b36ff5e1532320c20efc11843f5f7fc810f7bb", 168963,
               None, stages=4),
        _entry("prenet_real-2", "prenet_real", "real/PReNet2.pth",
               "cbf6068474e64bf81ea8597fe1473cda19e7d0afadb3c81beb41f8dcc3751269", 168963,
               None, stages=4),
    ),
))

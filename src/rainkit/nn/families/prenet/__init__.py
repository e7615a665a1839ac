"""PReNet (Ren et al., CVPR 2019): the networks, the authors' released checkpoints, their keys.

The authors released 20 files (github.com/csdwren/PReNet, ``logs/``): the paper's four networks
for Rain100H, Rain100L and Rain1400 (PReNet, PReNet_r, PRN, PRN_r, all with 6 stages), the
real-rain ``Generator_lstm`` twice, and the paper's ablation study on
Rain100H (PReNet_LSTM with 5, 6 and 7 stages, PReNet_GRU, PReNet_LSTM trained with a recursive
SSIM loss, PReNet_x).

Checkpoint names are ``<network>-<training set>[-<variant>]``, lowercase, as in every family:

- ``<network>`` is the rainkit network's name in :data:`rainkit.nn.MODELS` (``prenet``,
  ``prenet_r``, ``prn``, ``prn_r``, ``prenet_gru``, ``prenet_x``, ``prenet_real`` for the
  authors' ``Generator_lstm``);
- ``<training set>`` is the test set the file was trained for (``rain100h``: RainTrainH, ...);
  the real-rain files have none and are numbered as the authors number them
  (``prenet_real-1``);
- ``<variant>`` tells apart files of the same network and training set: ``ablation`` for the
  six files of the paper's ablation study (the authors' ``logs/Ablation``), followed by a stage
  count other than the paper's 6 (``-5stages``) or the training loss (``-recssim``).

The ablation files predict the clean image directly (the authors' ablation classes do not add
the input): their entries set ``residual=False``, which rainkit's trainable defaults do not (a
fresh network starts at the identity). The authors' ``PReNet_LSTM`` has no network of its own:
it is :class:`PReNet` (the same wiring) with ``residual=False``; ``PReNet_GRU`` is
:class:`PReNetGRU` with ``residual=False``; ``PReNet_x`` is :class:`PReNetX` with
``residual=False``.

============================================  ===========================  ==================
checkpoint                                    the authors' file            the authors' class
============================================  ===========================  ==================
``prenet-rain100h-ablation-5stages``          ``Ablation/PReNet5_LSTM``    ``PReNet_LSTM(5)``
``prenet-rain100h-ablation``                  ``Ablation/PReNet6_LSTM``    ``PReNet_LSTM(6)``
``prenet-rain100h-ablation-7stages``          ``Ablation/PReNet7_LSTM``    ``PReNet_LSTM(7)``
``prenet-rain100h-ablation-recssim``          ``Ablation/PReNet6_RecSSIM`` ``PReNet_LSTM(6)``
``prenet_gru-rain100h-ablation``              ``Ablation/PReNet6_GRU``     ``PReNet_GRU(6)``
``prenet_x-rain100h-ablation``                ``Ablation/PReNet6_x``       ``PReNet_x(6)``
============================================  ===========================  ==================
"""

from __future__ import annotations

import functools

import torch

from rainkit.nn.families.prenet.network import (
    PRN,
    PRNR,
    PReNet,
    PReNetGRU,
    PReNetR,
    PReNetReal,
    PReNetX,
)
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
    "PReNetX",
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
_ABLATION = ("The paper's ablation study on Rain100H (the authors' test_Ablation.sh runs it with "
             "their class {cls}); it predicts the clean image directly (no addition of the "
             "input), hence residual=False. The paper's ablation tables score it; their figures "
             "are not transcribed here. ")
#: Scoring convention of the published figures: the authors' statistic/*.m (MATLAB Y, not
#: rounded, Wang's ssim.m with automatic downsampling).
CONVENTION = "prenet-y"
_TRAIN = {
    "rain100h": "RainTrainH (1,254 pairs: Yang et al.'s 1,800 minus 546 that share a background "
                "with Rain100H)",
    "rain100l": "RainTrainL (200 pairs, Yang et al.)",
    "rain1400": "Rain12600 (900 scenes x 14 rain types, Fu et al.)",
    "ablation": "RainTrainH (1,254 pairs: Yang et al.'s 1,800 minus 546 that share a background "
                "with Rain100H)",
}


def _entry(name: str, model: str, folder: str, sha256: str, num_params: int,
           score: tuple[str, float, float] | None, notes: str = "",
           **kwargs: object) -> PretrainedWeights:
    trained_on = folder.split("/")[0].lower()
    published: tuple[PublishedScore, ...] = ()
    if score is not None:
        published = (PublishedScore(score[0], score[1], score[2], CONVENTION, _SOURCE,
                                    protocol="A"),)
    return PretrainedWeights(
        name=name, model=model, url=f"{_BASE}{folder}", sha256=sha256, num_params=num_params,
        training_set=_TRAIN.get(trained_on, "real rainy images (not stated by the authors)"),
        model_kwargs=kwargs, convert=functools.partial(convert_authors_state, model=model),
        published=published, notes=notes + _NOTE,
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
    models=("prenet", "prenet_r", "prn", "prn_r", "prenet_gru", "prenet_x", "prenet_real"),
    input_note=("RGB in [0, 1] (the authors' test script converts OpenCV's BGR to RGB); the "
                "synthetic-rain networks add their output to the input (predict the negative "
                "rain layer); the ablation classes PReNet_LSTM, PReNet_GRU, PReNet_x and the "
                "real-rain Generator_lstm predict the clean image"),
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
        _entry("prenet_r-rain100l", "prenet_r", "Rain100L/PReNet6_r/net_latest.pth",
               "31dd4419cdb0f4da623d974747113d60e2c22803598c39dcf03d789f86a7f62b", 94979,
               ("Rain100L", 37.10, 0.977), stages=6),
        _entry("prn-rain100l", "prn", "Rain100L/PRN6/net_latest.pth",
               "ed4be5b78f76dcec5c781e1655dee48c2a90b56993de555945d72e31848aea99", 95107,
               ("Rain100L", 36.99, 0.977), stages=6),
        _entry("prn_r-rain100l", "prn_r", "Rain100L/PRN6_r/net_latest.pth",
               "87ee3b1c027b33e7e532a4881c3b077d100cf40c65dd2843690600e3023acee0", 21123,
               ("Rain100L", 36.11, 0.973), stages=6),
        _entry("prenet-rain1400", "prenet", "Rain1400/PReNet6/net_latest.pth",
               "d5744dc2e35d73187a3f34936b3413884d293277073ffb78b961a78e65337879", 168963,
               ("Rain1400", 32.60, 0.946), stages=6),
        _entry("prenet_r-rain1400", "prenet_r", "Rain1400/PReNet6_r/net_latest.pth",
               "c639c19b342d6ae977b7ff8a4b2fbeb24179510a6e57b8bf5ef32d6b071fc8d5", 94979,
               ("Rain1400", 32.44, 0.944), stages=6),
        _entry("prn-rain1400", "prn", "Rain1400/PRN6/net_latest.pth",
               "c6620860a51b54afec0c1eebe412f0f1ca00128100f5b23c13758605206a0bf2", 95107,
               ("Rain1400", 31.69, 0.941), stages=6),
        _entry("prn_r-rain1400", "prn_r", "Rain1400/PRN6_r/net_latest.pth",
               "c0f7f18f3d33e26f50af8c693494a03c2776c627140a1d8e0514edd53e9398fb", 21123,
               ("Rain1400", 31.31, 0.937), stages=6),
        _entry("prenet_real-1", "prenet_real", "real/PReNet1.pth",
               "eba0c0ed941565abce9c61ceb8b36ff5e1532320c20efc11843f5f7fc810f7bb", 168963,
               None, stages=4),
        _entry("prenet_real-2", "prenet_real", "real/PReNet2.pth",
               "cbf6068474e64bf81ea8597fe1473cda19e7d0afadb3c81beb41f8dcc3751269", 168963,
               None, stages=4),
        _entry("prenet-rain100h-ablation-5stages", "prenet",
               "Ablation/PReNet5_LSTM/net_latest.pth",
               "02a0a1c184a87bf816e341a092756666f52277b5d34d9e224ba6ae904d2e991e", 168963,
               None, _ABLATION.format(cls="PReNet_LSTM(5)"), stages=5, residual=False),
        _entry("prenet-rain100h-ablation", "prenet",
               "Ablation/PReNet6_LSTM/net_latest.pth",
               "b32541dfad6aa173c537dada8597475227e920fc9c8e1bbb80061363462bc14c", 168963,
               None, _ABLATION.format(cls="PReNet_LSTM(6)"), stages=6, residual=False),
        _entry("prenet-rain100h-ablation-7stages", "prenet",
               "Ablation/PReNet7_LSTM/net_latest.pth",
               "c5971708f06fefcbd467588321958160806225bccb4415e9ca56073d68b8f812", 168963,
               None, _ABLATION.format(cls="PReNet_LSTM(7)"), stages=7, residual=False),
        _entry("prenet-rain100h-ablation-recssim", "prenet",
               "Ablation/PReNet6_RecSSIM/net_latest.pth",
               "04ee235b6fed1798d48fbfd8b31f853d782fa6fdcae172f533979264a96ed7a4", 168963,
               None, _ABLATION.format(cls="PReNet_LSTM(6)")
               + "Trained with the recursive SSIM loss (every stage's output supervised). ",
               stages=6, residual=False),
        _entry("prenet_gru-rain100h-ablation", "prenet_gru",
               "Ablation/PReNet6_GRU/net_latest.pth",
               "2c0ed5ec96fe54c83a474c597741843ae4e98f1aac019470ce51235ac3bf66ff", 150499,
               None, _ABLATION.format(cls="PReNet_GRU(6)"), stages=6, residual=False),
        _entry("prenet_x-rain100h-ablation", "prenet_x",
               "Ablation/PReNet6_x/net_latest.pth",
               "ae76d3dce017c181f6c541c4884d606315b4a09ca1d29757ca44c8688e845bfe", 168099,
               None, _ABLATION.format(cls="PReNet_x(6)"), stages=6, residual=False),
    ),
))

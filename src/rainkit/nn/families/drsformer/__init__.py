"""DRSformer (Chen et al., CVPR 2023): the network in both variants, the authors' released
checkpoints (one per training set, behind Google Drive and Baidu Cloud)."""

from __future__ import annotations

from rainkit.nn.families.drsformer.network import DRSformer
from rainkit.nn.registry import Family, PretrainedWeights, PublishedScore, register_family

__all__ = ["FAMILY", "DRSformer"]

_SOURCE = ("Chen et al., CVPR 2023, camera-ready Table 1 (the authors' README, figs/table.png; "
           "the README warns that it differs slightly from the arXiv version)")
_NOTE = ("No licence file in the authors' repository (cschenxiang/DRSformer, commit e77bbb4e; "
         "the code is based on Restormer, under the non-commercial Academic Public License): "
         "rainkit does not ship or redistribute the file.")

# training-set key: (Google Drive id, Baidu link, Baidu code, MEFC?, training set,
#                    (test set, PSNR, SSIM, convention))
_RELEASES = {
    "rain200l": ("1Mm6hWdpjo9eEoNlCHAxd03etY3ks-zyy", "1uj7TWVr4Ys00Xfc8i-AquQ", "kzj5", False,
                 "Rain200L training set (1,800 pairs)", ("Rain200L", 41.23, 0.9894, "mprnet-y")),
    "rain200h": ("1mt8ydHE540_qtytger4dVcv6xqZ5YMhh", "1paqtkKfdjLGetnRVhDb6LQ", "j10m", True,
                 "Rain200H training set (1,800 pairs)", ("Rain200H", 32.17, 0.9326, "mprnet-y")),
    "did": ("1U_UEGPhYRJ-G10-Dypr7FbwDRGmroAHC", "1xSS5N5gUkpQ_Jl8MUz6wlw", "nact", True,
            "DID-Data (the DID-MDN training set, 12,000 pairs)",
            ("DID-Data", 35.35, 0.9646, "prenet-y")),
    "ddn": ("1kwPOfufdUf9bCZ-OvwIziw-6ZRdcT2RX", "1RKG-Eel29lgi0nHwdk2JIw", "hj6r", True,
            "DDN-Data (Fu et al.'s Rain14000 training part, 12,600 pairs)",
            ("DDN-Data", 34.35, 0.9588, "prenet-y")),
    "spa": ("1i33Zmb1YXdLcalJOIP7YTegjnuTsVcC1", "1Jp5sAsFFmJmko7ZwHdKmxQ", "vfvt", False,
            "SPA-Data (real rain, Wang et al. CVPR 2019)", ("SPA-Data", 48.54, 0.9924, "mprnet-y")),
}


def _entry(key: str) -> PretrainedWeights:
    drive, baidu, code, mefc, training, (test_set, psnr, ssim, convention) = _RELEASES[key]
    variant = ("with MEFC (DRSformer_arch.py)" if mefc
               else "without MEFC (DRSformer_arch_200L+SPA.py)")
    return PretrainedWeights(
        name=f"drsformer-{key}",
        model="drsformer",
        url=f"https://drive.google.com/file/d/{drive}/view?usp=sharing",
        sha256=None,
        downloadable=False,
        training_set=training,
        num_params=33_655_424 if mefc else 32_610_304,
        model_kwargs={"mefc": mefc},
        published=(PublishedScore(test_set, psnr, ssim, convention, _SOURCE, protocol="C"),),
        notes=(f"Architecture {variant}. The authors host the file on Google Drive (the URL "
               f"above) and Baidu Cloud (https://pan.baidu.com/s/{baidu}?pwd={code}, "
               f"extraction code {code}); they publish no name, size or hash. Download it in "
               f"a browser, then `rainkit download drsformer-{key} --url FILE`: its keys and "
               "shapes are checked strictly (a file of the other variant is refused) and its "
               f"SHA-256 pinned on first use. {_NOTE}"),
    )


#: The DRSformer family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="drsformer",
    title="DRSformer (Chen et al., CVPR 2023)",
    paper=("X. Chen, H. Li, M. Li, J. Pan, \"Learning A Sparse Transformer Network for "
           "Effective Image Deraining\", CVPR 2023"),
    repository="https://github.com/cschenxiang/DRSformer (commit e77bbb4e)",
    licence=("no licence file in the authors' repository (based on Restormer's Academic Public "
             "License code): weights are the authors', not redistributed by rainkit"),
    models=("drsformer",),
    tiling=("approximate: every output pixel depends on the whole image (the top-k attention "
            "maps and MEFC's expert weights pool over all pixels)"),
    input_note=("RGB in [0, 1] (the authors' test.py converts cv2's BGR to RGB); reflect-pads "
                "to a multiple of 8 and adds the predicted residual to the input"),
    weights=tuple(_entry(key) for key in _RELEASES),
))

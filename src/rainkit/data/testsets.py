"""The standard deraining test sets: their names, protocols, sizes, layouts and sources.

The same data goes by several names (Rain1200 is DID-Data and, under protocol B, Test1200),
and the same name by several versions (Rain100H has 100 test pairs; its authors' re-release,
Rain200H, has 200). A published figure is only comparable with a measured one when the test
set *and its version*, the benchmark protocol and the scoring convention all match.
:data:`TEST_SETS` records what is known of each set, :func:`find_test_set` finds one by any
of its names, :func:`check_test_folder` warns when a folder holds another version, and
:func:`figure_mismatches` says why a published figure does not compare with a measurement.

The protocols (:data:`PROTOCOLS`):

* **A**: one model per training set, tested on the original Rain100L/H (100 pairs each),
  Rain1400 and Rain12 (PReNet, BRN, RCDNet).
* **B**: one model trained on the Rain13K mixture, tested on Test100, Rain100H, Rain100L,
  Test2800 and Test1200 (MSPFN, MPRNet, HINet, Restormer).
* **C**: one model per training set, tested on Rain200L/H, DID-Data, DDN-Data and SPA-Data
  (SPDNet, IDT, DRSformer, NeRD-Rain).

Sources: the authors' repositories and READMEs (csdwren/PReNet ``datasets/readme.txt``,
csdwren/RecDerain ``datasets/readme.txt``, swz30/MPRNet ``Deraining/README.md``,
cschenxiang/DRSformer ``README.md``, stevewongv/SPANet). Where a number could not be checked
against the authors' own words, the set's :attr:`TestSet.notes` say so.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol as _TypingProtocol

from rainkit.metrics.conventions import CONVENTIONS

__all__ = [
    "PROTOCOLS",
    "TEST_SETS",
    "BenchmarkProtocol",
    "TestSet",
    "check_test_folder",
    "figure_mismatches",
    "find_test_set",
    "guess_test_set",
]


@dataclass(frozen=True)
class BenchmarkProtocol:
    """One of the three benchmark protocols of single-image deraining.

    Attributes:
        name: ``"A"``, ``"B"`` or ``"C"``.
        title: a short description (``"Rain13K mixed training"``).
        training: how models are trained under it.
        test_sets: the canonical names (keys of :data:`TEST_SETS`) of its test sets, in the
            order of the papers' tables.
        papers: papers whose tables follow it.
        scoring: the scoring scripts its papers use (see the guide "Reproducing a paper's
            table" for the matching ``convention=`` names).
    """

    name: str
    title: str
    training: str
    test_sets: tuple[str, ...]
    papers: tuple[str, ...]
    scoring: str


#: The benchmark protocols, by letter.
PROTOCOLS: dict[str, BenchmarkProtocol] = {
    "A": BenchmarkProtocol(
        "A", "per-dataset training on the original Rain100L/H, Rain1400, Rain12",
        "one model per training set: RainTrainL (200 pairs) for Rain100L and Rain12, "
        "RainTrainH (1,800 pairs; PReNet and BRN drop the 546 that share backgrounds with the "
        "test set, leaving 1,254) for Rain100H, Rain12600 for Rain1400",
        ("Rain100H", "Rain100L", "Rain12", "Rain1400"),
        ("PReNet (CVPR 2019)", "BRN (TIP 2020)", "RCDNet (CVPR 2020)"),
        "PReNet's statistic/*.m: Y of MATLAB rgb2ycbcr on doubles, psnr.m (peak 1), Wang's "
        "ssim.m with automatic downsampling",
    ),
    "B": BenchmarkProtocol(
        "B", "Rain13K mixed training",
        "one model trained on Rain13K, 13,712 pairs gathered by MSPFN from Rain14000, Rain1800 "
        "(the 1,800 RainTrainH pairs), Rain800 and Rain12",
        ("Test100", "Rain100H", "Rain100L", "Test2800", "Rain1200"),
        ("MSPFN (CVPR 2020)", "MPRNet (CVPR 2021)", "HINet (CVPRW 2021)",
         "Restormer (CVPR 2022)"),
        "MPRNet's Deraining/evaluate_PSNR_SSIM.m: Y of rgb2ycbcr on uint8 (rounded), PSNR "
        "peak 255, Wang's SSIM_index; results paired with targets by sorted order",
    ),
    "C": BenchmarkProtocol(
        "C", "per-dataset training on Rain200L/H, DID-Data, DDN-Data, SPA-Data",
        "one model per training set, trained on that set's own training split",
        ("Rain200L", "Rain200H", "Rain1200", "Rain1400", "SPA-Data"),
        ("SPDNet (ICCV 2021)", "IDT (TPAMI 2022)", "DRSformer (CVPR 2023)",
         "NeRD-Rain (CVPR 2024)"),
        "Restormer's evaluate_PSNR_SSIM.m for Rain200L/H and SPA-Data; RCDNet's statistic.m "
        "(PReNet's scoring) for DID-Data and DDN-Data",
    ),
}


@dataclass(frozen=True)
class TestSet:
    """What is known of one test set.

    Attributes:
        name: the canonical name, a key of :data:`TEST_SETS` (``"Rain1200"``).
        aliases: its other names (``"DID-Data"``, ``"Test1200"``); lookup ignores case,
            ``-``, ``_``, ``.`` and spaces.
        n_pairs: the number of rainy/clean test pairs (rainy images, where several share a
            clean image); for a set without ground truth, the number of images, or ``None``
            when not known.
        protocols: the protocols (keys of :data:`PROTOCOLS`) that test on it.
        training: ``(protocol, training set)`` pairs: what is trained on for each protocol.
        protocol_names: ``(protocol, name)`` pairs where a protocol's papers call it otherwise.
        layouts: the keys of :data:`~rainkit.data.LAYOUTS` its releases come in.
        source: the paper that made it and where its authors (or the benchmark's) publish it.
        other_versions: the canonical names of other releases of the same data, whose figures
            are *not* comparable with this one's.
        has_ground_truth: ``False`` for real rain without clean images (score with
            no-reference metrics).
        notes: what else matters, and what could not be checked.
    """

    __test__ = False  # not a pytest test class

    name: str
    aliases: tuple[str, ...]
    n_pairs: int | None
    protocols: tuple[str, ...]
    training: tuple[tuple[str, str], ...]
    layouts: tuple[str, ...]
    source: str
    protocol_names: tuple[tuple[str, str], ...] = ()
    other_versions: tuple[str, ...] = ()
    has_ground_truth: bool = True
    notes: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by the aliases."""
        return (self.name, *self.aliases)

    def name_in(self, protocol: str) -> str:
        """The name the papers of ``protocol`` give this set (``"Test1200"`` under B)."""
        return dict(self.protocol_names).get(protocol, self.name)

    def training_set(self, protocol: str) -> str | None:
        """What models tested on this set are trained on under ``protocol``, or ``None``."""
        return dict(self.training).get(protocol)

    def describe(self) -> str:
        """One line: the name, the protocols with their names for it, and the pair count."""
        uses = ", ".join(
            f"protocol {p}" + (f" (as {self.name_in(p)})" if self.name_in(p) != self.name else "")
            for p in self.protocols
        ) or "no benchmark protocol"
        size = (f"{self.n_pairs} pairs" if self.has_ground_truth else f"{self.n_pairs} images")
        if self.n_pairs is None:
            size = "size not known"
        return f"{self.name}: {size}; {uses}"


_RAIN100_NOTE = (
    "The original JORDER release with 100 test pairs (481x321 images). The JORDER project page "
    "now serves a modified release with 200 test pairs, which is {new}; PReNet's "
    "datasets/readme.txt: 'the models and results in recent papers are all based on the "
    "original dataset'. Protocols A and B both name this set {name}; whether MPRNet's "
    "Datasets/test/{name} holds byte-identical files to PReNet's was not checked here."
)

#: The known test sets, by canonical name, in the order of the guide's table.
TEST_SETS: dict[str, TestSet] = {
    test_set.name: test_set
    for test_set in (
        TestSet(
            "Rain100L", ("R100L",), 100, ("A", "B"),
            (("A", "RainTrainL (200 pairs)"), ("B", "Rain13K")),
            ("prenet_rain100", "rain100", "input_target"),
            "Yang et al., 'Deep Joint Rain Detection and Removal from a Single Image', CVPR 2017 "
            "(JORDER); the original release is redistributed by PReNet (csdwren/PReNet, "
            "datasets/readme.txt) and, for protocol B, by MPRNet (swz30/MPRNet, "
            "Deraining/README.md)",
            other_versions=("Rain200L",),
            notes=_RAIN100_NOTE.format(name="Rain100L", new="Rain200L"),
        ),
        TestSet(
            "Rain100H", ("R100H",), 100, ("A", "B"),
            (("A", "RainTrainH (1,800 pairs; 1,254 after PReNet and BRN drop the 546 that share "
                   "backgrounds with the test set)"), ("B", "Rain13K")),
            ("prenet_rain100", "rain100", "input_target"),
            "Yang et al., CVPR 2017 (JORDER); the original release is redistributed by PReNet "
            "(csdwren/PReNet, datasets/readme.txt) and, for protocol B, by MPRNet "
            "(swz30/MPRNet, Deraining/README.md)",
            other_versions=("Rain200H",),
            notes=_RAIN100_NOTE.format(name="Rain100H", new="Rain200H") + (
                " The same PReNet checkpoint family reads 29.46 dB here under protocol A; "
                "protocol B tables list PReNet at 26.77 dB (another training set)."),
        ),
        TestSet(
            "Rain200L", ("RainLight",), 200, ("C",),
            (("C", "Rain200L training set (1,800 pairs)"),),
            ("rain200", "input_target"),
            "the JORDER authors' re-release of Rain100L on their project page "
            "(www.icst.pku.edu.cn/struct/Projects/joint_rain_removal.html): 1,800 training and "
            "200 test pairs (BRN's datasets/readme.txt, where it is RainLight*)",
            other_versions=("Rain100L",),
            notes="BRN (csdwren/RecDerain) calls it RainLight* and tests its SPA-Data "
                  "generalisation with models trained on it. Files norain-<i>x2.png (rainy) and "
                  "norain-<i>.png (clean).",
        ),
        TestSet(
            "Rain200H", ("RainHeavy",), 200, ("C",),
            (("C", "Rain200H training set (1,800 pairs)"),),
            ("rain200", "input_target"),
            "the JORDER authors' re-release of Rain100H on their project page: 1,800 training "
            "and 200 test pairs (BRN's datasets/readme.txt, where it is RainHeavy*)",
            other_versions=("Rain100H",),
            notes="BRN (csdwren/RecDerain) calls it RainHeavy*. Files norain-<i>x2.png (rainy) "
                  "and norain-<i>.png (clean).",
        ),
        TestSet(
            "Rain1400", ("DDN-Data",), 1400, ("A", "C"),
            (("A", "Rain12600 (900 clean images x 14 rain types = 12,600 pairs)"),
             ("C", "DDN-Data training set (Rain12600)")),
            ("rain1400",),
            "Fu et al., 'Removing Rain from Single Images via a Deep Detail Network', CVPR 2017 "
            "(DDN): 1,000 clean images with 14 rainy versions each; the last 100 (901-1000) "
            "give the 1,400 test pairs (PReNet's datasets/readme.txt and "
            "statistic/statistic_rain1400.m)",
            protocol_names=(("C", "DDN-Data"),),
            notes="JPEG files: rainy_image/<i>_<k>.jpg (k = 1..14) with ground_truth/<i>.jpg. "
                  "PReNet saves its results under the input's .jpg name, so they are JPEG-"
                  "compressed (OpenCV's quality 95) before scoring: reproduce with "
                  "rainkit.data.jpeg_roundtrip. Protocol C (DRSformer, NeRD-Rain) scores "
                  "results renamed <i>_DR.png against <i>_GT.png, i = 1..1400.",
        ),
        TestSet(
            "Rain1200", ("DID-Data", "Test1200"), 1200, ("B", "C"),
            (("B", "Rain13K"),
             ("C", "DID-Data training set (12,000 pairs, three rain densities)")),
            ("did_mdn", "input_target"),
            "Zhang and Patel, 'Density-aware Single Image De-raining using a Multi-stream Dense "
            "Network', CVPR 2018 (DID-MDN, github.com/hezhangsprinter/DID-MDN)",
            protocol_names=(("B", "Test1200"), ("C", "DID-Data")),
            notes="Released as side-by-side JPEGs (rainy left, clean right; layout 'did_mdn'); "
                  "the protocol B and C redistributions split them into input/ and target/. "
                  "The 12,000-pair training set is DID-MDN's; protocol B does not train on it.",
        ),
        TestSet(
            "Test100", (), 100, ("B",),
            (("B", "Rain13K"),),
            ("input_target", "rain800"),
            "Zhang, Sindagi and Patel, 'Image De-raining Using a Conditional Generative "
            "Adversarial Network', IEEE TCSVT 2020, arXiv 1701.05957 (ID-CGAN): the 100 test "
            "pairs of Rain800 (github.com/hezhangsprinter/ID-CGAN)",
            notes="ID-CGAN releases side-by-side JPEGs (clean left, rainy right; layout "
                  "'rain800'); MPRNet's redistribution splits them into input/ and target/. "
                  "Rain800's 700 training pairs are part of Rain13K.",
        ),
        TestSet(
            "Test2800", ("Rain2800",), 2800, ("B",),
            (("B", "Rain13K"),),
            ("input_target",),
            "2,800 pairs of DDN's Rain14000 (Fu et al., CVPR 2017: 200 clean images x 14 rain "
            "types), held out of Rain13K by MSPFN (Jiang et al., CVPR 2020); redistributed by "
            "MPRNet (swz30/MPRNet, Deraining/README.md)",
            notes="Drawn from the same 14,000 images as Rain1400 and Rain12600; which clean "
                  "images it shares with Rain1400 was not checked here.",
        ),
        TestSet(
            "Rain12", ("test12",), 12, ("A",),
            (("A", "none of its own: the Rain100L model (RainTrainL), as BRN's "
                   "test_Rain12.sh"),),
            ("rain12",),
            "Li et al., 'Rain Streak Removal Using Layer Priors', CVPR 2016 "
            "(yu-li.github.io/paper/li_cvpr16_rain.zip); PReNet's datasets/readme.txt",
            notes="PReNet keeps it as test12/rainy/<i>.png + test12/groundtruth/<i>.png "
                  "(statistic/statistic_rain12.m). Its 12 pairs are also part of Rain13K, the "
                  "protocol B training set.",
        ),
        TestSet(
            "SPA-Data", ("SPA", "real_test_1000"), 1000, ("C",),
            (("C", "SPA-Data training set (the SPANet authors' real-rain pairs)"),),
            ("spa", "input_target"),
            "Wang et al., 'Spatial Attentive Single-Image Deraining with a High Quality Real "
            "Rain Dataset', CVPR 2019 (SPANet, github.com/stevewongv/SPANet): 1,000 real-rain "
            "test pairs",
            notes="Real rain with ground truth made from video. The SPANet authors score it "
                  "with scikit-image on the float RGB output (their own convention); protocol C "
                  "papers use Restormer's evaluate_PSNR_SSIM.m; BRN's table tests models "
                  "trained on Rain200L (RainLight*). Three different numbers for one name.",
        ),
        TestSet(
            "JORDER-Practical", ("Practical",), None, (),
            (),
            (),
            "real rainy photographs without ground truth published with JORDER (Yang et al., "
            "CVPR 2017) on its project page "
            "(www.icst.pku.edu.cn/struct/Projects/joint_rain_removal.html)",
            has_ground_truth=False,
            notes="No clean images: judge results by eye and with no-reference metrics (NIQE, "
                  "BRISQUE). The number of images was not checked here.",
        ),
    )
}


_SEPARATORS = re.compile(r"[-_.*\s]+")


def _normalise(name: str) -> str:
    """Lower case without ``-``, ``_``, ``.``, ``*`` and spaces: ``"DID_Data"`` -> ``"diddata"``."""
    return _SEPARATORS.sub("", name).lower()


def _lookup_table() -> dict[str, TestSet]:
    table: dict[str, TestSet] = {}
    for test_set in TEST_SETS.values():
        for name in test_set.names:
            table[_normalise(name)] = test_set
    return table


_BY_NAME = _lookup_table()


def _all_names() -> str:
    return "; ".join(
        t.name + (f" ({', '.join(t.aliases)})" if t.aliases else "") for t in TEST_SETS.values()
    )


def find_test_set(name: str) -> TestSet:
    """The test set of a name or alias, ignoring case and ``-``, ``_``, ``.``, spaces.

    Args:
        name: a name as a paper or a folder gives it: ``"Rain100H"``, ``"rain_100h"``,
            ``"DID-Data"``, ``"test1200"``, ``"RainHeavy"``.

    Returns:
        The :class:`TestSet` from :data:`TEST_SETS`.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: an unknown name; the message suggests the closest known names and lists
            them all.

    Example:
        >>> find_test_set("test1200").name
        'Rain1200'
        >>> find_test_set("RainHeavy").name, find_test_set("ddn_data").name
        ('Rain200H', 'Rain1400')
        >>> find_test_set("Rain100HH")
        Traceback (most recent call last):
        ...
        ValueError: name must be a known test set, got 'Rain100HH'; did you mean 'Rain100H', ...
    """
    return _lookup(name, "name")


def _lookup(value: object, argument: str) -> TestSet:
    """:func:`find_test_set` with the caller's argument name in the messages."""
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a test set name (a str), got "
                        f"{type(value).__name__}")
    key = _normalise(value)
    if key in _BY_NAME:
        return _BY_NAME[key]
    display = {_normalise(n): n for t in TEST_SETS.values() for n in t.names}
    close = difflib.get_close_matches(key, list(display), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(display[c]) for c in close)}?" if close else ";"
    raise ValueError(f"{argument} must be a known test set, got {value!r}{hint} known test "
                     f"sets (aliases): {_all_names()}")


def guess_test_set(path: str | os.PathLike[str]) -> TestSet | None:
    """The test set a folder path names, or ``None``.

    The folder's own name is tried first, then its parents' (``Datasets/test/Rain100H/input``
    gives Rain100H), each as :func:`find_test_set` reads names. A guess from a folder name
    says nothing of the folder's version: check its size with :func:`check_test_folder`.

    Args:
        path: a dataset folder, or a folder inside one.

    Returns:
        The :class:`TestSet` of the nearest path component that is a known name or alias.

    Example:
        >>> guess_test_set("Datasets/test/Test1200/input").name
        'Rain1200'
        >>> guess_test_set("my_photos") is None
        True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    for part in reversed(Path(path).parts):
        found = _BY_NAME.get(_normalise(part))
        if found is not None:
            return found
    return None


def _as_test_set(test_set: TestSet | str, name: str = "test_set") -> TestSet:
    if isinstance(test_set, TestSet):
        return test_set
    if isinstance(test_set, str):
        return _lookup(test_set, name)
    raise TypeError(f"{name} must be a TestSet or a name, got {type(test_set).__name__}")


def check_test_folder(
    test_set: TestSet | str, n_pairs: int, *, folder: str | os.PathLike[str] | None = None
) -> list[str]:
    """Warnings about a test folder whose size is not the test set's.

    Args:
        test_set: the set the folder is meant to hold (a :class:`TestSet` or a name).
        n_pairs: how many pairs (or images, for a set without ground truth) it holds.
        folder: the folder, to name it in the warnings.

    Returns:
        Plain-language warnings, empty when the count is the set's (or the set's size is not
        known). Another version of the same data (200 pairs for Rain100H, the size of
        Rain200H) is named as such.

    Example:
        >>> check_test_folder("Rain100H", 100)
        []
        >>> import textwrap
        >>> for warning in check_test_folder("Rain100H", 200):
        ...     print(textwrap.fill(warning, 80))
        the folder holds 200 pairs, but Rain100H has 100: 200 is the size of Rain200H,
        the other release of this data; a Rain100H figure does not compare with it
    """
    found = _as_test_set(test_set)
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int):
        raise TypeError(f"n_pairs must be an int, got {type(n_pairs).__name__}")
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    if found.n_pairs is None or n_pairs == found.n_pairs:
        return []
    unit = "pairs" if found.has_ground_truth else "images"
    where = f"{folder} holds" if folder is not None else "the folder holds"
    head = f"{where} {n_pairs} {unit}, but {found.name} has {found.n_pairs}"
    versions = [TEST_SETS[v] for v in found.other_versions if TEST_SETS[v].n_pairs == n_pairs]
    if versions:
        other = versions[0].name
        return [f"{head}: {n_pairs} is the size of {other}, the other release of this data; a "
                f"{found.name} figure does not compare with it"]
    same_size = [t.name for t in TEST_SETS.values() if t.n_pairs == n_pairs and t is not found]
    hint = f" ({n_pairs} is the size of {', '.join(same_size)})" if same_size else ""
    if n_pairs < found.n_pairs:
        what = "a subset or another folder"
    else:
        what = "more than the test set: another version or another folder"
    return [f"{head}: {what}{hint}; a published {found.name} figure does not compare with it"]


class _Figure(_TypingProtocol):
    test_set: str
    convention: str
    protocol: str


def _canonical(convention: str) -> str:
    """A convention's canonical name (``"matlab-y"`` -> ``"prenet-y"``); unknown names as given."""
    known = CONVENTIONS.get(convention)
    return known.name if known is not None else convention


def figure_mismatches(
    figure: _Figure,
    *,
    test_set: TestSet | str,
    convention: str,
    protocol: str | None = None,
    n_pairs: int | None = None,
) -> list[str]:
    """Why a published figure does not compare with a measurement; empty when it does.

    A figure compares only when it is on the same test set (the same version: Rain100H is not
    Rain200H), under the same protocol and scored with the same convention, and the folder
    holds the whole test set.

    Args:
        figure: the published figure: anything with ``test_set``, ``convention`` and
            ``protocol`` attributes, such as :class:`rainkit.nn.PublishedScore` (``protocol``
            may be ``""``: not stated).
        test_set: the set that was measured (a :class:`TestSet` or a name).
        convention: the scoring convention of the measurement; compared with the figure's by
            name, so give both in the same spelling (the keys of
            :data:`rainkit.metrics.CONVENTIONS`).
        protocol: the measurement's protocol, when known (``"A"``, ``"B"``, ``"C"``).
        n_pairs: the number of pairs measured, when known (see :func:`check_test_folder`).

    Returns:
        One sentence per mismatch; show the published figure beside the measurement only
        when the list is empty, and print the reasons otherwise.

    Example:
        >>> from types import SimpleNamespace
        >>> figure = SimpleNamespace(test_set="Rain100H", convention="matlab-y", protocol="A")
        >>> figure_mismatches(figure, test_set="rain100h", convention="matlab-y", n_pairs=100)
        []
        >>> for reason in figure_mismatches(figure, test_set="Rain200H", convention="rgb"):
        ...     print(reason)
        the figure is on Rain100H, the measurement on Rain200H (another release of the same data)
        the figure is scored with convention 'matlab-y', the measurement with 'rgb'
    """
    measured = _as_test_set(test_set)
    reasons: list[str] = []
    for attribute in ("test_set", "convention", "protocol"):
        if not hasattr(figure, attribute):
            raise TypeError(f"figure must have test_set, convention and protocol attributes "
                            f"(a rainkit.nn.PublishedScore), got {type(figure).__name__}")
    if not isinstance(convention, str):
        raise TypeError(f"convention must be a str, got {type(convention).__name__}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of 'A', 'B', 'C' or None, got {protocol!r}")
    try:
        published = _lookup(str(figure.test_set), "figure.test_set")
    except ValueError:
        published = None
    if published is None:
        reasons.append(f"the figure's test set {figure.test_set!r} is not a known test set, so "
                       f"it cannot be matched with {measured.name}")
    elif published is not measured:
        relation = (" (another release of the same data)"
                    if measured.name in published.other_versions else "")
        reasons.append(f"the figure is on {published.name}, the measurement on "
                       f"{measured.name}{relation}")
    if _canonical(figure.convention) != _canonical(convention):
        reasons.append(f"the figure is scored with convention {figure.convention!r}, the "
                       f"measurement with {convention!r}")
    figure_protocol = figure.protocol or None
    if protocol is not None and figure_protocol is not None and figure_protocol != protocol:
        reasons.append(f"the figure follows protocol {figure_protocol} "
                       f"({PROTOCOLS[figure_protocol].title}), the measurement protocol "
                       f"{protocol} ({PROTOCOLS[protocol].title})")
    elif (published is measured and figure_protocol in PROTOCOLS
          and measured.protocols and figure_protocol not in measured.protocols):
        reasons.append(f"the figure follows protocol {figure_protocol}, which does not test "
                       f"on {measured.name} (it is in protocol "
                       f"{', '.join(measured.protocols)})")
    if n_pairs is not None:
        reasons.extend(check_test_folder(measured, n_pairs))
    return reasons

"""The model-zoo tables: one per family, written from :data:`rainkit.nn.FAMILIES` at every build.

``docs/conf.py`` calls :func:`write_tables` when Sphinx starts, so a new family appears on the
model-zoo page without an edit here. The column "rain-dev/val" comes from
``docs/guides/_zoo_measured.csv``, written by ``tools/measure_zoo.py``, which runs
``rainkit evaluate NAME rain-dev/val`` for every checkpoint whose file it finds: the page shows
what the command prints, nothing else. Run by hand: ``python docs/figures/model_zoo.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from rainkit.nn import FAMILIES, Family, PretrainedWeights

DOCS = Path(__file__).resolve().parents[1]
TABLES = DOCS / "guides" / "_model_zoo_tables.rst"
MEASURED = DOCS / "guides" / "_zoo_measured.csv"


def measured() -> dict[str, dict[str, str]]:
    """What ``tools/measure_zoo.py`` recorded, by checkpoint name (empty when never run)."""
    if not MEASURED.is_file():
        return {}
    with open(MEASURED, newline="") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def _cell(text: str) -> str:
    return text.replace("\n", " ").strip() or "--"


def _published(entry: PretrainedWeights) -> str:
    if not entry.published:
        return "none (real rain, no ground truth)"
    return "; ".join(
        f"{s.test_set} {s.psnr:.2f} dB / {s.ssim:.4g} (protocol {s.protocol or '--'}, "
        f"``{s.convention}``)" for s in entry.published)


def _measured(entry: PretrainedWeights, rows: dict[str, dict[str, str]]) -> str:
    row = rows.get(entry.name)
    if row is None:
        return ("weights not available here" if entry.sha256 is None
                else "not measured")
    return f"{float(row['psnr']):.2f} dB / {float(row['ssim']):.4f} (``{row['convention']}``)"


def _family_table(family: Family, rows: dict[str, dict[str, str]]) -> list[str]:
    lines = [family.title, "-" * len(family.title), ""]
    page = DOCS / "families" / f"{family.name}.rst"
    more = f" See :doc:`../families/{family.name}`." if page.is_file() else ""
    lines += [
        f"{family.paper}. Code: {family.repository}. Licence: {family.licence}.{more}",
        "",
        f"Input and output: {family.input_note}. Tiling (``rainkit derain --tile``): "
        f"{family.tiling}.",
        "",
    ]
    if not family.weights:
        return [*lines, "No released checkpoint.", ""]
    lines += [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 18 16 9 18 24 15",
        "",
        "   * - name",
        "     - network",
        "     - parameters",
        "     - trained on",
        "     - published (protocol, convention)",
        "     - rainkit, rain-dev/val",
    ]
    for entry in family.weights:
        kwargs = ", ".join(f"{k}={v!r}" for k, v in entry.model_kwargs.items())
        source = "" if entry.downloadable else " (manual download)"
        lines += [
            f"   * - ``{entry.name}``{source}",
            f"     - ``{entry.model}({kwargs})``",
            f"     - {entry.num_params:,}",
            f"     - {_cell(entry.training_set)}",
            f"     - {_cell(_published(entry))}",
            f"     - {_measured(entry, rows)}",
        ]
    lines += ["", "Files (rainkit never redistributes them):", "",
              ".. list-table::", "   :header-rows: 1", "   :widths: 20 50 30", "",
              "   * - name", "     - source", "     - SHA-256"]
    for entry in family.weights:
        digest = (f"``{entry.sha256}``" if entry.sha256 else
                  "none published: pinned on first load")
        # An explicit link: a bare URL with "_-" in it (Google Drive ids) ends early in
        # reStructuredText and leaves a dangling reference.
        link = f"`<{entry.url}>`__"
        source = link if entry.downloadable else f"{link} (in a browser)"
        lines += [f"   * - ``{entry.name}``", f"     - {source}", f"     - {digest}"]
    return [*lines, ""]


def tables() -> str:
    """The reStructuredText of every family's table, in family-name order."""
    rows = measured()
    lines = [".. This file is written by docs/figures/model_zoo.py at every docs build: do not "
             "edit.", ""]
    for name in sorted(FAMILIES):
        lines += _family_table(FAMILIES[name], rows)
    return "\n".join(lines).rstrip() + "\n"


def write_tables() -> Path:
    """Write :data:`TABLES` when its content changed (so Sphinx rebuilds only then)."""
    text = tables()
    if not TABLES.is_file() or TABLES.read_text() != text:
        TABLES.write_text(text)
    return TABLES


if __name__ == "__main__":
    print(write_tables())

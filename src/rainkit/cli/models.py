"""``rainkit models``: the published checkpoints rainkit knows, as a table."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rainkit.cli._common import CommandError

if TYPE_CHECKING:  # rainkit.nn is imported when the command runs, not when the CLI starts
    from rainkit.nn.registry import PretrainedWeights, PublishedScore

__all__ = ["models_table", "register"]

DESCRIPTION = """\
List the published checkpoints: name (what 'rainkit derain', 'rainkit evaluate' and
'rainkit download' take), family, parameters, training set, each published figure with its
test set, benchmark protocol (A: per-dataset training on Rain100L/H, Rain1400, Rain12; B:
Rain13K mixed training; C: per-dataset training on Rain200L/H, DID-Data, DDN-Data, SPA-Data)
and scoring convention, and whether the file is in the torch hub cache.
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("models", help="list the published models",
                                 description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default=None,
                        help="only this family (prenet, brn, ...; see the first column)")
    parser.add_argument("--test_set", "--test-set", dest="test_set", default=None,
                        help="only models with a published figure on this test set (any of its "
                             "names: Rain100H, Rain1200, DID-Data, Test1200, ...)")
    parser.add_argument("--downloaded", action="store_true",
                        help="only models whose file is in the hub cache")
    parser.set_defaults(run=run)


def _trained_on(text: str) -> str:
    """The training set's name without the explanation in brackets."""
    return text.split(" (")[0].strip() or text


def _figure(figure: PublishedScore) -> str:
    ssim_text = "" if math.isnan(figure.ssim) else f" / {figure.ssim:.3f}"
    return (f"{figure.test_set} {figure.psnr:.2f} dB{ssim_text} "
            f"({figure.protocol or '-'}, {figure.convention})")


def _status(entry: PretrainedWeights) -> str:
    from rainkit._hub import hub_checkpoint_dir

    if (hub_checkpoint_dir() / entry.file_name).is_file():
        return "yes"
    return "no" if entry.downloadable else "no (manual)"


def _columns(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return lines


def models_table(entries: Iterable[PretrainedWeights]) -> list[str]:
    """The table's lines: one row per checkpoint, one more per extra published figure.

    Example:
        >>> from rainkit.nn import PRETRAINED
        >>> lines = models_table([PRETRAINED["prenet-rain100h"]])
        >>> lines[0].split()[:5]
        ['name', 'family', 'params', 'trained', 'on']
        >>> "Rain100H 29.46 dB / 0.899 (A, prenet-y)" in lines[2]
        True
    """
    header = ("name", "family", "params", "trained on",
              "published: test set PSNR / SSIM (protocol, convention)", "downloaded")
    rows: list[list[str]] = []
    for entry in entries:
        figures = list(entry.published)
        first = _figure(figures[0]) if figures else "-"
        rows.append([entry.name, entry.family, f"{entry.num_params:,}",
                     _trained_on(entry.training_set), first, _status(entry)])
        rows += [["", "", "", "", _figure(f), ""] for f in figures[1:]]
    return _columns(rows, header)


def _matches_test_set(entry: object, wanted: object) -> bool:
    from rainkit.data import find_test_set

    for figure in getattr(entry, "published", ()) or ():
        try:
            if find_test_set(figure.test_set) is wanted:
                return True
        except ValueError:  # a figure on a set the registry does not know
            continue
    return False


def run(args: argparse.Namespace) -> int:
    from rainkit.nn import FAMILIES, PRETRAINED

    entries = [PRETRAINED[name] for name in sorted(PRETRAINED)]
    if args.family is not None:
        family = args.family.lower()
        if family not in FAMILIES:
            import difflib

            close = difflib.get_close_matches(family, list(FAMILIES), n=3)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise CommandError(f"--family: unknown family {args.family!r}; {hint}known: "
                               f"{', '.join(sorted(FAMILIES))}")
        entries = [e for e in entries if e.family == family]
    if args.test_set is not None:
        from rainkit.data import find_test_set

        try:
            wanted = find_test_set(args.test_set)
        except ValueError as err:
            raise CommandError(f"--test_set: {err}") from None
        entries = [e for e in entries if _matches_test_set(e, wanted)]
    if args.downloaded:
        entries = [e for e in entries if _status(e) == "yes"]
    if not entries:
        print("no published model matches")
        return 0
    print("\n".join(models_table(entries)))
    print(f"\n{len(entries)} model(s). 'rainkit download NAME' fetches one; 'rainkit derain "
          "NAME photo.jpg' uses it.")
    return 0

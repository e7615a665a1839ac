"""Run the public-API fuzz matrix of tests/test_public_api_fuzz.py and print the outcome counts.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python tests/fuzz_report.py [--details] [--name SUBSTRING]

Prints, for the whole matrix, per class of input (``CLASSES``) and per public name, how many
calls gave a clear error, a correct result, an obscure crash, a silent result (accepted bad
input, or a non-finite / wrongly shaped result from finite input) and a wrongly rejected valid
input; ``--details`` lists every call that is neither a clear error nor a correct result, and
``--classes`` prints only the table per class.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_public_api_fuzz import (
    CLASSES,
    KNOWN_FAILURES,
    OUTCOMES,
    UNSAFE_CASES,
    build_cases,
    classify,
)

NAMES = {"clear": "clear errors", "correct": "correct results", "crash": "obscure crashes",
         "silent": "silent results", "rejected": "valid input rejected"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="list every bad outcome")
    parser.add_argument("--name", default="", help="only names containing this substring")
    parser.add_argument("--classes", action="store_true", help="only the table per class")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    total: Counter[str] = Counter()
    per_name: dict[str, Counter[str]] = defaultdict(Counter)
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    bad: list[tuple[str, str, str, str]] = []
    for case in build_cases():
        if args.name not in case.name or case.id in UNSAFE_CASES:
            continue
        outcome, detail = classify(case)
        total[outcome] += 1
        per_name[case.name][outcome] += 1
        per_class[case.klass][outcome] += 1
        if outcome not in ("clear", "correct"):
            bad.append((case.id, outcome, case.expect, detail))
    print(f"{'class of input':42s}" + "".join(f"{o:>9s}" for o in OUTCOMES) + "    total")
    for klass in CLASSES:
        counts = per_class[klass]
        print(f"{klass:42s}" + "".join(f"{counts[o]:9d}" for o in OUTCOMES)
              + f"{sum(counts.values()):9d}")
    print()
    if args.classes:
        print(f"{sum(total.values())} calls: "
              + ", ".join(f"{total[o]} {NAMES[o]}" for o in OUTCOMES))
        return
    print(f"{'name':42s}" + "".join(f"{o:>9s}" for o in OUTCOMES))
    for name, counts in per_name.items():
        mark = " *" if name in KNOWN_FAILURES else ""
        print(f"{name.removeprefix('rainkit.') + mark:42s}"
              + "".join(f"{counts[o]:9d}" for o in OUTCOMES))
    print(f"\n{sum(total.values())} calls: "
          + ", ".join(f"{total[o]} {NAMES[o]}" for o in OUTCOMES))
    others: Counter[str] = Counter()
    for name, counts in per_name.items():
        if name not in KNOWN_FAILURES:
            others.update(counts)
    print(f"names not marked *: {sum(others.values())} calls: "
          + ", ".join(f"{others[o]} {NAMES[o]}" for o in OUTCOMES))
    print("names marked * are in KNOWN_FAILURES (left to other branches, or open)")
    if args.details:
        for case_id, outcome, expect, detail in bad:
            print(f"{outcome:8s} {case_id} (expected {expect}): {detail[:300]}")


if __name__ == "__main__":
    main()

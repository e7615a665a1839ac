"""The command-line pages of the docs say only what the commands do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rainkit.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _options(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {flag for action in sub._actions for flag in action.option_strings}


def _sections(text: str) -> dict[str, str]:
    """Section title -> body, for the sections of a reStructuredText page."""
    parts = re.split(r"\n(.+)\n[-~]{3,}\n", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize(("section", "commands"), [
    ("``rainkit models``", ["models"]),
    ("``rainkit download``", ["download"]),
    ("``rainkit derain``", ["derain"]),
    ("Photos much larger than the training images", ["derain"]),
    ("``rainkit evaluate`` and ``rainkit score``", ["evaluate", "score"]),
])
def test_every_option_in_the_guide_exists(section: str, commands: list[str]) -> None:
    body = _sections((DOCS / "guides" / "command_line.rst").read_text())[section]
    known = set().union(*(_options(c) for c in commands))
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z_-]*|-o)\b", body))
    assert named and named <= known, sorted(named - known)


def test_score_does_not_offer_outputs() -> None:
    assert "--output" not in _options("score") and "--jpeg" not in _options("score")


def test_quickstart_commands_parse() -> None:
    text = (DOCS / "quickstart.rst").read_text()
    lines = [line.split("#")[0].split() for line in text.splitlines()
             if line.strip().startswith("rainkit ")]
    assert len(lines) >= 4
    parser = build_parser()
    for words in lines:
        parser.parse_args(words[1:])  # raises SystemExit on an unknown option or value


def test_no_python_arguments_in_the_guide() -> None:
    text = (DOCS / "guides" / "command_line.rst").read_text()
    assert not re.search(r"\b(layout|pair_by|weights)=", text)

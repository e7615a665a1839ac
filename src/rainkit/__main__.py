"""``python -m rainkit``: the same as the ``rainkit`` command."""

from rainkit.cli import console_main

console_main()

"""``rainkit download`` and ``rainkit models``: the published checkpoints rainkit knows."""

from __future__ import annotations

import argparse
from pathlib import Path

from rainkit.cli._common import CommandError

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "download", help="download published checkpoints (checked by SHA-256)",
        description="Download published checkpoints into the torch hub cache "
                    "($TORCH_HOME/hub/checkpoints), where rainkit.nn.load_pretrained and "
                    "'rainkit derain NAME' find them. Each file's SHA-256 is checked before it "
                    "is kept. This is the only command that uses the network.")
    parser.add_argument("names", nargs="*", help="published model names ('rainkit models')")
    parser.add_argument("--all", action="store_true", help="download every published model")
    parser.add_argument("--url", default=None,
                        help="download from this URL instead of the table's (a mirror, or a "
                             "file:// URL of a copy); only with a single name")
    parser.add_argument("--dir", type=Path, default=None,
                        help="put the files here instead of the torch hub cache")
    parser.add_argument("--force", action="store_true",
                        help="download again even if a good copy is present")
    parser.set_defaults(run=run_download)

    models = commands.add_parser("models", help="list the published models",
                                 description="List the published checkpoints: name, network, "
                                             "training set, published scores, parameters, and "
                                             "whether the file is in the hub cache.")
    models.set_defaults(run=run_models)


def _table() -> dict:
    import rainkit.nn

    return dict(rainkit.nn.PRETRAINED)


def run_download(args: argparse.Namespace) -> int:
    import rainkit.nn

    table = _table()
    names = sorted(table) if args.all else list(args.names)
    if not names:
        raise CommandError("name at least one model (see 'rainkit models') or pass --all")
    unknown = [n for n in names if n not in table]
    if unknown:
        raise CommandError(f"unknown model(s) {', '.join(map(repr, unknown))}; published models: "
                           f"{', '.join(sorted(table))}")
    if args.url is not None and len(names) != 1:
        raise CommandError("--url needs exactly one model name")
    for name in names:
        try:
            path = rainkit.nn.download_pretrained(name, url=args.url, directory=args.dir,
                                                  overwrite=args.force, progress=True)
        except (OSError, ValueError) as err:
            raise CommandError(str(err)) from None
        print(f"{name}: {path} (SHA-256 verified)", flush=True)
    return 0


def run_models(args: argparse.Namespace) -> int:
    import rainkit.nn

    for name, entry in sorted(_table().items()):
        print(rainkit.nn.describe_pretrained(name) if hasattr(rainkit.nn, "describe_pretrained")
              else f"{name}: {entry}")
    return 0

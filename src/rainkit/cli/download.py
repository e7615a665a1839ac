"""``rainkit download``: published checkpoints and ImageNet backbones, checked and kept safely."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rainkit.cli._common import CommandError

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "download", help="download published checkpoints and backbones (checked by SHA-256)",
        description="Download published checkpoints and the ImageNet backbones of the losses "
                    "and LPIPS into the torch hub cache ($TORCH_HOME/hub/checkpoints), where "
                    "rainkit finds them. Each file streams to a temporary name and is kept "
                    "only when complete and its SHA-256 matches the published one (a file "
                    "without a published hash: when its keys and shapes fit, and its SHA-256 "
                    "is pinned on first use and must match after); failed transfers are "
                    "retried. "
                    "This is the only command that uses the network.")
    parser.add_argument("names", nargs="*",
                        help="published model names ('rainkit models') or backbones (vgg19 for "
                             "the feature losses; alexnet, vgg16, squeezenet1_1 for LPIPS)")
    parser.add_argument("--all", action="store_true",
                        help="download every file a script can fetch (models and backbones)")
    parser.add_argument("--url", default=None,
                        help="take the file from here instead of the table's URL: a mirror, a "
                             "file:// URL, or the path of a copy you downloaded (the way to add "
                             "files hosted on Google Drive or Baidu); only with a single name")
    parser.add_argument("--dir", type=Path, default=None,
                        help="put the files here instead of the torch hub cache")
    parser.add_argument("--force", action="store_true",
                        help="download again even if a good copy is present")
    parser.set_defaults(run=run_download)



def _backbones() -> dict[str, tuple[str, str, str]]:
    """The ImageNet backbones rainkit's losses and metrics read: name -> (file, URL, what)."""
    from rainkit.loss.vgg import VGG19_URL, VGG19_WEIGHTS_FILE
    from rainkit.metrics.lpips import BACKBONE_FILES, BACKBONE_URL

    table = {"vgg19": (VGG19_WEIGHTS_FILE, VGG19_URL,
                       "VGG19 ImageNet weights (perceptual, style and contrastive losses)")}
    for net, file_name in BACKBONE_FILES.items():
        name = file_name.split("-")[0]
        table[name] = (file_name, BACKBONE_URL.format(file_name),
                       f"LPIPS(net={net!r}) backbone")
    return table


def _table() -> dict[str, Any]:
    import rainkit.nn

    return dict(rainkit.nn.PRETRAINED)


def run_download(args: argparse.Namespace) -> int:
    import rainkit.nn
    from rainkit._hub import download_file, hub_checkpoint_dir

    table, backbones = _table(), _backbones()
    known = sorted(table) + sorted(backbones)
    names = sorted(n for n in table if table[n].downloadable) + sorted(backbones) \
        if args.all else list(args.names)
    if not names:
        raise CommandError("name at least one file (a model of 'rainkit models', or a backbone: "
                           f"{', '.join(sorted(backbones))}) or pass --all")
    unknown = [n for n in names if n not in table and n not in backbones]
    if unknown:
        import difflib

        close = {n: difflib.get_close_matches(n, known, n=2) for n in unknown}
        hints = "; ".join(f"{n!r} (did you mean {', '.join(map(repr, c))}?)" if c else repr(n)
                          for n, c in close.items())
        raise CommandError(f"unknown name(s) {hints}; 'rainkit models' lists the models, and "
                           f"the backbones are {', '.join(sorted(backbones))}")
    if args.url is not None and len(names) != 1:
        raise CommandError("--url needs exactly one name")
    folder = args.dir if args.dir is not None else hub_checkpoint_dir()
    for name in names:
        try:
            if name in backbones:
                file_name, url, what = backbones[name]
                target = folder / file_name
                there = target.is_file() and not args.force
                path = download_file(args.url or url, target, file_name.split("-")[-1][:-4],
                                     what=what, overwrite=args.force, progress=True)
                checked = "SHA-256 prefix verified, as torchvision does"
            else:
                entry = table[name]
                target = folder / entry.file_name
                there = target.is_file() and not args.force
                path = rainkit.nn.download_pretrained(name, url=args.url, directory=args.dir,
                                                      overwrite=args.force, progress=True)
                checked = ("SHA-256 verified" if entry.sha256 else
                           "no published hash: keys and shapes checked, SHA-256 pinned on "
                           "first use and checked after")
        except (OSError, ValueError) as err:
            raise CommandError(str(err)) from None
        action = "already there" if there else "downloaded"
        print(f"{name}: {action}: {path} ({checked})", flush=True)
    if args.all:
        manual = sorted(n for n in table if not table[n].downloadable)
        if manual:
            print(f"not fetched (the authors host them where no script can): "
                  f"{', '.join(manual)}; see 'rainkit models' for where to get each, then "
                  "'rainkit download NAME --url FILE'", flush=True)
    return 0

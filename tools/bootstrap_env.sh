#!/usr/bin/env bash
# Create ./.venv for this checkout, with the heavy dependencies taken from a cache outside the clone.
#
# torch and torchvision come from the package registry as a matched pair (the local CPU-only torch
# wheel has no torchvision to match), which is about 5 GB, so they are installed once into a cached
# environment keyed on the dependency spec in pyproject.toml:
#
#     ${RAINKIT_ENV_CACHE:-$HOME/.cache/rainkit}/env-<hash of the dependency spec>/
#
# ./.venv is then a small local virtual environment that sees the cached site-packages (through a
# .pth file) and holds an editable install of this checkout. A change to the dependencies in
# pyproject.toml gives a new key, hence a fresh cached environment; the old one stays until removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
python=${PYTHON:-python3}
extras="test,docs,examples,bench"

spec=$("$python" - "$extras" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = sys.argv[1].split(",")
lines = sorted(project["dependencies"])
for extra in extras:
    lines += sorted(project["optional-dependencies"][extra])
print(sys.version_info[:2], *lines, sep="\n")
PY
)
key=$(printf '%s' "$spec" | sha256sum | cut -c1-16)
cache_root=${RAINKIT_ENV_CACHE:-$HOME/.cache/rainkit}
cache="$cache_root/env-$key"

if [ ! -f "$cache/.complete" ]; then
    echo "bootstrap: building the dependency environment $cache (once per dependency spec)"
    rm -rf "$cache"
    mkdir -p "$cache_root"
    "$python" -m venv "$cache"
    printf '%s\n' "$spec" | tail -n +2 > "$cache/requirements.txt"
    # Every requirement in one resolver call, so that torch and torchvision come as a matched pair.
    # pip's output goes to a log (it is long); its tail is shown if the install fails.
    if ! "$cache/bin/python" -m pip install -r "$cache/requirements.txt" \
            "hatchling>=1.18" "editables>=0.5" > "$cache/pip-install.log" 2>&1; then
        grep -v "is ignored: it is neither" "$cache/pip-install.log" | tail -n 40
        echo "bootstrap: pip install failed; full log in $cache/pip-install.log" >&2
        exit 1
    fi
    "$cache/bin/python" -c "import torch, torchvision; print('bootstrap: torch', torch.__version__, 'torchvision', torchvision.__version__)"
    touch "$cache/.complete"
fi

cache_site=$("$cache/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.rainkit-env 2>/dev/null)" != "$cache" ]; then
    echo "bootstrap: creating .venv on top of $cache"
    rm -rf .venv
    "$python" -m venv .venv
    echo "$cache" > .venv/.rainkit-env
fi
venv_site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# site.addsitedir (not a bare path) so that the cached environment's own .pth files are processed.
echo "import site; site.addsitedir('$cache_site')" > "$venv_site/_rainkit_env_cache.pth"
# Console scripts of the cached tools (pytest, sphinx-build, ruff) next to .venv's python.
for tool in ruff sphinx-build pytest; do
    ln -sf "$cache/bin/$tool" ".venv/bin/$tool"
done
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 \
    | { grep -v "is ignored: it is neither" || true; }

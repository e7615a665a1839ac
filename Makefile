# Two commands do everything on a fresh machine:
#   make demo   train a small model on synthetic rain and show before/after scores
#   make test   ruff, mypy (strict on src), the import-layer check, pytest (tests + doctests),
#               and a warnings-as-errors Sphinx build
PY := .venv/bin/python

.PHONY: demo test lint docs bench venv clean

.venv/.bootstrapped: pyproject.toml tools/bootstrap_env.sh
	bash tools/bootstrap_env.sh
	touch $@

venv: .venv/.bootstrapped

demo: .venv/.bootstrapped
	$(PY) examples/train.py --demo --overwrite

test: .venv/.bootstrapped
	$(PY) -m ruff check src tests examples benchmarks docs tools
	$(PY) -m mypy
	$(PY) tools/check_imports.py
	$(PY) -m pytest tests src/rainkit docs/guides --doctest-modules --doctest-glob='*.rst'
	$(PY) -m sphinx -W --keep-going -b html -q docs docs/_build/html

lint: .venv/.bootstrapped
	$(PY) -m ruff check src tests examples benchmarks docs tools
	$(PY) -m mypy
	$(PY) tools/check_imports.py

docs: .venv/.bootstrapped
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: .venv/.bootstrapped
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_losses.py

clean:
	rm -rf .venv docs/_build .pytest_cache

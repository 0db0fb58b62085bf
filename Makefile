# gunicorn_switch — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
SHIPPED := plugin/gunicorn_switch_main.py plugin/gunicorn_switch_core

.PHONY: setup demo test test-fast lint dist bench clean

# Everything the tests and the demo need that a fresh machine lacks (idempotent).
setup:
	bash tools/setup.sh

demo: setup
	$(PYTHON) tools/demo.py

test: setup lint
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# Everything that needs no sandbox host and no browser (markers: tests/conftest.py).
test-fast:
	$(PYTHON) -m pytest -q -p no:cacheprovider -m "not sandbox and not ui and not slow" tests

lint:
	ruff check .
	bandit -q -r plugin -ll 2>/dev/null
	vermin -q -t=3.7- --no-tips --violations --exclude-regex 'templates/' $(SHIPPED)
	$(PYTHON) -m mypy --config-file mypy.ini
	$(PYTHON) -m py_compile $$(find $(SHIPPED) -name '*.py')
	bash -n install.sh

dist:
	$(PYTHON) tools/build_dist.py

bench: setup
	$(PYTHON) bench/run.py

clean:
	rm -rf dist tests/results .pytest_cache

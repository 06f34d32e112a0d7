# Everything a fresh machine needs: `make test` and `make demo` build the
# virtualenv from requirements/constraints.txt (the pinned, tested set).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
DEMO_DIR ?= work_dirs/demo
PYTEST_ARGS ?=

.PHONY: test demo venv clean

venv: $(STAMP)

# torch first (users bring their own build; the pinned one here), then the
# package editable with every extra the tests exercise.
$(STAMP): setup.py $(CONSTRAINTS) $(wildcard requirements/*.txt)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) torch torchaudio
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[all]'
	touch $@

test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) tools/demo.py --work-dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) work_dirs

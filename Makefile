# Everything a fresh machine needs: `make test` and `make demo` build the
# virtualenv from requirements/constraints.txt (the pinned, tested set).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
DEMO_DIR ?= work_dirs/demo
PYTEST_ARGS ?=

.PHONY: test test-gpu demo venv clean

venv: $(STAMP)

# torch first (users bring their own build; the pinned one here), then the
# package editable with what the demo needs (`demo` extra: no test, logging,
# decord or MMAction2 packages); the tests add every extra on top.
$(DEMO_STAMP): setup.py $(CONSTRAINTS) $(wildcard requirements/*.txt)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) torch torchaudio
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[demo]'
	touch $@

$(STAMP): $(DEMO_STAMP)
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[all]'
	touch $@

# CPU suite on any machine (tests/conftest.py hides GPUs; what CI runs)
test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

# the CUDA paths (AMP fp16, bf16 + channels-last, SyncBN over NCCL, inductor,
# device-side data path, GPU benchmark); needs a GPU and a CUDA torch build
test-gpu: $(STAMP)
	MMAVCL_TEST_CUDA=1 $(PY) -m pytest -m cuda tests $(PYTEST_ARGS)

demo: $(DEMO_STAMP)
	$(PY) tools/demo.py --work-dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) work_dirs

# The two set-up commands (README): `make demo` and `make test`.
# Each creates .venv and installs the project (exact versions from constraints.txt)
# when the venv is missing or pyproject.toml / constraints.txt changed, then runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= outputs/demo

.PHONY: demo test test-fast lint lock install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"
	mkdir -p mlruns
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock: $(STAMP)
	# --all keeps setuptools (the tests build the wheel with it); pip itself is upgraded apart
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# every test (CI runs this). One OpenMP thread per xdist worker: two workers on two cores, no
# spin-wait oversubscription. --dist loadscope runs a module's tests on one worker, so its
# module-scoped fixtures (a fitted model, a written world, a Spark session) are built once
test: lint
	OMP_NUM_THREADS=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadscope -q

# the quick loop while working: the same without the tests marked slow or browser
test-fast: lint
	OMP_NUM_THREADS=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadscope -q -m "not slow and not browser"

clean:
	rm -rf $(VENV) outputs mlflow.db mlruns/[0-9a-f]* .pytest_cache

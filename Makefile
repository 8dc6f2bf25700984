# pyworker: every command a newcomer needs. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck unit bench-inmemory bench-durable bench-grpc bench-admin protos check-protos lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/workerctl demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict -p pyworker
	$(BIN)/mypy --strict tests

# Random order (pytest-randomly): the header names the seed; rerun one order with -p randomly --randomly-seed=N.
test: lint
	$(BIN)/python -m pytest

# BENCH_ARGS passes options, e.g. `make bench-durable BENCH_ARGS=--quick` (see bench/README.md).
bench-inmemory: $(STAMP)
	$(BIN)/python bench/inmemory.py $(BENCH_ARGS)

# pyworker beside Huey, SAQ, Taskiq and arq; the last three run from venvs it makes under .cache/bench-peers/.
bench-durable: $(STAMP)
	$(BIN)/python bench/durable.py $(BENCH_ARGS)

bench-grpc: $(STAMP)
	$(BIN)/python bench/grpc_api.py

# The web admin page (workerctl admin) with 1,000,000 tasks waiting; BENCH_ARGS=--quick: 100,000.
bench-admin: $(STAMP)
	$(BIN)/python bench/admin.py $(BENCH_ARGS)

# Regenerate the committed gRPC/protobuf stubs from protos/worker/v1/*.proto. They are
# compiled through the pyworker/protos link so that they import as pyworker.protos.worker.v1.
protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. pyworker/protos/worker/v1/*.proto

# CI guard: the committed stubs match the .proto sources.
check-protos: protos
	git diff --exit-code -- protos/

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock: $(STAMP)
	( echo '# Exact versions tested together (pip install -c constraints.txt). Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -vi '^pyworker' ) > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The two commands a fresh clone needs: `make run` and `make test`.
#
# Dependencies come from uv.lock (every package pinned with its hashes, for Python 3.11 to 3.13).
# uv itself is installed by pip into .tools/, pinned here.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# uv never downloads an interpreter: it uses the one $(PYTHON) names.
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test test-quick test-with lint docs format bench lock audit clean check-python

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "This project needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Install one (e.g. pyenv install 3.12) or run: make PYTHON=python3.12 ..."; exit 1; }

$(UV): | check-python
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# uv rebuilds .venv when its Python is not the one asked for (no stale venv after a switch).
$(STAMP): pyproject.toml uv.lock .python-version $(UV) | check-python
	$(UV) sync --locked --quiet --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	touch $(STAMP)

# Serves the example rules on http://127.0.0.1:$PORT (5000). Without DASHLY_API_TOKEN it is a
# dry run; without DASHLY_WEBHOOK_TOKEN it accepts the development token it prints.
run: $(STAMP)
	@$(BIN)/python -c 'import socket, sys; port = int(sys.argv[1]); s = socket.socket(); \
	s.bind(("127.0.0.1", port))' $${PORT:-5000} 2>/dev/null || { \
		echo "Port $${PORT:-5000} is taken (another make run?). Serve on another one: PORT=5001 make run"; \
		exit 1; }
	LOCAL_RUN=make WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} \
	exec $(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$${PORT:-5000} app.wsgi:app

test: $(STAMP) lint
	$(BIN)/pytest

# The same without the tests marked slow (gunicorn processes, servers of their own, waits of
# seconds): for a quick look while working. `make test` is the one that counts.
test-quick: $(STAMP) lint
	$(BIN)/pytest -m "not slow"

# The suite on another Python the project supports, in a venv of its own (CI runs it on 3.11
# and 3.13): make test-with PY=/path/to/python3.11
test-with: $(UV)
	@test -n "$(PY)" || { echo "usage: make test-with PY=/path/to/python"; exit 1; }
	UV_PROJECT_ENVIRONMENT=.venv-other $(UV) sync --locked --quiet --python "$(PY)"
	.venv-other/bin/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# docs/rules.md's table of rule keys, from app/rules/keys.py (a test fails while they differ).
docs: $(STAMP)
	$(BIN)/python -c 'from app.rules.keys import write_reference; write_reference("docs/rules.md")'

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh uv.lock after editing the dependencies in pyproject.toml.
lock: $(UV)
	$(UV) lock

# Known vulnerabilities in the locked runtime dependencies (CI runs it). Skipped, saying so,
# when no vulnerability database can be reached.
audit: $(STAMP)
	@if ! $(BIN)/python -c "import urllib.request as u; u.urlopen('https://pypi.org/pypi/flask/3.1.0/json', timeout=10)" 2>/dev/null; then \
		echo "audit skipped: PyPI's vulnerability data (pypi.org/pypi/NAME/VERSION/json) cannot be reached from here"; exit 0; fi; \
	$(UV) export --locked --quiet --no-dev --no-emit-project --format requirements-txt -o .venv/audit-requirements.txt && \
	$(BIN)/pip-audit --strict --progress-spinner off --disable-pip -r .venv/audit-requirements.txt

# One quick round (about 5 minutes here); `make bench BENCH_FULL=1` for the full run. Exits non-zero
# when a target is missed. The load comes from wrk (Debian's package), installed when missing.
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }
	@status=0; $(BIN)/python bench/matching.py || status=1; \
		$(BIN)/python bench/service.py || status=1; \
		if [ -n "$(BENCH_FULL)" ]; then $(BIN)/python bench/delivery.py || status=1; fi; \
		exit $$status

clean:
	rm -rf $(VENV) .venv-* $(TOOLS) instance .pytest_cache .ruff_cache

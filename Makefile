# The two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e '.[test]'
	touch $(STAMP)

# Serves the example rules on http://127.0.0.1:5000. Without DASHLY_API_TOKEN it is a dry run;
# without DASHLY_WEBHOOK_TOKEN it accepts the development token it prints.
run: $(STAMP)
	DASHLY_DEV_WEBHOOK_TOKEN=$${DASHLY_DEV_WEBHOOK_TOKEN:-dev-webhook-token} \
	WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} \
	$(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:5000 'app:create_app()'

test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# One quick round (about 3 minutes); `make bench BENCH_FULL=1` for the full run. Exits non-zero
# when a target is missed. The load comes from wrk (Debian's package), installed when missing.
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }
	@status=0; $(BIN)/python bench/matching.py || status=1; \
		$(BIN)/python bench/service.py || status=1; exit $$status

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

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

bench: $(STAMP)
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/service.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

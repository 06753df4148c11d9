# Two commands matter: `make run` serves the API on embedded defaults, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Proxies whose X-Forwarded-For uvicorn believes when it sets the client address (comma list).
FORWARDED_ALLOW_IPS ?= 127.0.0.1
export HOST PORT FORWARDED_ALLOW_IPS

.PHONY: run test lint typecheck pytest migrate models sql format bench bundle-size clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements-server.txt adds httptools (uvicorn picks it up on its own) and uvloop (only
# for bench/throughput.py's comparison: `make run` asks for asyncio's loop). Both
# stay out of requirements.txt, the Vercel bundle, whose runtime brings its own server.
# requirements-cutout.txt (LiteRT and numpy for the studio's person cutout) stays out of the
# bundle too; the studio frames selfies where it is missing.
$(VENV)/.runtime-installed: requirements.txt requirements-server.txt requirements-cutout.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-server.txt -r requirements-cutout.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-server.txt requirements-cutout.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## models: fetch the studio's person-cutout models into .data/models (once; then a no-op)
models: $(VENV)/.runtime-installed
	$(BIN)/python scripts/fetch_cutout_models.py

## run: apply migrations and serve the API on $HOST:$PORT (embedded defaults need nothing else)
run: $(VENV)/.runtime-installed migrate models
	$(BIN)/python -m uvicorn api.index:app --host $(HOST) --port $(PORT) --loop asyncio \
		--forwarded-allow-ips "$(FORWARDED_ALLOW_IPS)"

migrate: $(VENV)/.runtime-installed
	$(BIN)/python -m alembic upgrade head

## sql: print the Postgres schema for Supabase's SQL editor (`make -s sql > schema.sql`)
sql: $(VENV)/.runtime-installed
	@$(BIN)/python scripts/export_schema_sql.py

## test: lint, type-check and run every test against SQLite and a real PostgreSQL and Redis
test: $(VENV)/.dev-installed lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed models
	bash scripts/install_test_services.sh
	$(BIN)/python -m pytest

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/auth_throughput.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/studio_render.py
	$(BIN)/python bench/render_contention.py
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/coldstart_vercel.py
	$(BIN)/python bench/lambda_coldstart.py
	$(BIN)/python bench/admin_queries.py

## bundle-size: install requirements.txt as Vercel does and compare it with the 250 MB limit
bundle-size: $(VENV)/.dev-installed
	$(BIN)/python bench/bundle_size.py --python-version $$(cat .python-version)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

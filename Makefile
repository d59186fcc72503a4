# Two commands do all the set-up on a fresh clone:  make run  and  make test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup migrate demo lint check-deploy bench clean screenshots

# The first Python >= 3.12 found: $(PYTHON) if given, then python3.13/3.12 on PATH, then pyenv's, then python3.
find_python = for c in "$(PYTHON)" python3.13 python3.12 \
	  $$(command -v pyenv >/dev/null 2>&1 && for v in 3.13 3.12; do p=$$(pyenv prefix $$(pyenv versions --bare | grep -E "^$$v(\.|$$)" | tail -n1) 2>/dev/null) && echo "$$p/bin/python3"; done) \
	  python3; do \
	  [ -n "$$c" ] || continue; \
	  if command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$$c"; exit 0; fi; \
	  if [ "$$c" = "$(PYTHON)" ]; then echo "PYTHON=$(PYTHON) is not a Python >= 3.12" >&2; exit 1; fi; \
	done; echo "No Python >= 3.12 found. Install one, or run: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12" >&2; exit 1

$(STAMP): requirements.txt requirements-dev.txt
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  echo "Replacing $(VENV): it is not Python >= 3.12"; rm -rf $(VENV); fi
	@if [ ! -x $(PY) ]; then py=$$($(find_python)) || exit 1; echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

# The demo users and a demo clinic of fictional patients (refused, and skipped here, when DEBUG is off).
demo: migrate
	$(PY) manage.py demo_clinic --skip-without-debug

# The server and one background worker (reminders: manage.py db_worker) together; Ctrl-C stops both.
run: demo
	@$(PY) manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

test: setup
	$(VENV)/bin/ruff check --quiet .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -n auto --dist loadfile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/ruff format --check .

check-deploy: setup
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  DJANGO_ALLOWED_HOSTS=b12.example.org $(PY) manage.py check --deploy --fail-level WARNING

# Benchmarks (not tests): the engine, every page against a bare view, and the load mix, on PostgreSQL
# (BENCH_DATABASE_URL, default postgres://app:app@127.0.0.1:5432/app_bench; seeded once, then reused).
# Each step runs even when an earlier one misses its goal; make fails if any did.
bench: setup
	@rc=0; \
	$(PY) bench/bench_engine.py || rc=1; \
	$(PY) bench/run.py || rc=1; \
	$(PY) bench/load.py || rc=1; \
	$(PY) bench/bench_booking.py || rc=1; \
	$(PY) bench/bench_reminders.py || rc=1; \
	exit $$rc

# The README's screenshots, taken by Chromium over a fresh demo clinic in a throw-away database.
screenshots: setup
	$(PY) docs/make_screenshots.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis

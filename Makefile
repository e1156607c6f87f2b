# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the package with its extras on first use
# (and again whenever setup.py changes), with the CPU-only TensorFlow (smaller,
# and CI has no GPU); a user's `pip install vergeml` gets TensorFlow's own (docs/gpu.md).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: demo test test-all lint bench bench-quick docs clean

$(STAMP): setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	VERGEML_TENSORFLOW=tensorflow-cpu $(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The browser test (tests/reliability/test_browser.py) drives Debian's chromium.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium > /dev/null

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

# make test: everything but the tests marked slow (the big backbones, long
# end-to-end runs), in well under 15 minutes; make test-all: every test.
# Unbuffered, so a log cut short still ends at the test that was running.
test: $(STAMP) $(CHROMIUM) lint
	PYTHONUNBUFFERED=1 $(PY) -m pytest -m "not slow" --durations=15

test-all: $(STAMP) $(CHROMIUM) lint
	PYTHONUNBUFFERED=1 $(PY) -m pytest --durations=30

# The linter (ruff.toml): pyflakes, pycodestyle, bugbear, blind except, unused noqa.
lint: $(STAMP)
	$(PY) -m ruff check vergeml tests bench

# make bench: every benchmark, then one table of all figures (under 15
# minutes here); make bench-quick: the same rows at smaller sizes (under 3).
bench: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash bench/run.sh

bench-quick: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash bench/run.sh --quick

docs: $(STAMP)
	$(PY) -m vergeml.cli.reference_docs docs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

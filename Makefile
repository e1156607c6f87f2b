# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the package with its extras on first use
# (and again whenever setup.py changes).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench docs clean

$(STAMP): setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash bench/run.sh

docs: $(STAMP)
	$(PY) -m vergeml.docs docs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

"""Fixtures for the reliability tests (faults, bad input, load, a browser).

They reuse the end-to-end fixtures: a real ``ml`` in a subprocess, the offline
MobileNet weights, the session's digits project. Tests that take long are
marked ``slow`` (``make test-all`` only); the rest run in ``make test``.
"""
from tests.e2e.conftest import (
    digits_project, ml_env, session_keras_home, trained_digits)

"""The shortcuts ``ml list`` takes per cell give what the general code gives.

``format_cell`` formats str, int and float cells without the general type
checks, times without ``strftime``, and ISO times are parsed once per text;
``value_of`` looks results and hyperparameters up with ``dict.get``; the
host name comes from ``uname`` on Linux. Each is compared with the code it
replaced (copied here as the reference) on many values.
"""
import datetime
import json
import random
import socket
import sys

import pytest

from vergeml.instances import listing
from vergeml.instances.liveness import hostname
from vergeml.instances.listing import _MISSING, _minute_text, format_cell, value_of

TIME_KEYS = ("training_start", "training_end", "created_at")


def reference_timestamp(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return None


def reference_format_cell(key, value):
    if value is _MISSING or value is None:
        return ""
    if key in TIME_KEYS:
        stamp = reference_timestamp(value)
        if stamp is not None:
            return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 0.01 or abs(value) >= 1e6 else f"{value:.3f}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


class Text(str):
    """A str subclass: takes the general path."""


VALUES = [None, _MISSING, True, False, 0, 1, -7, 2 ** 70, 0.0, -0.0, 0.5, 0.001, -0.004, 1e-9,
          123456.789, float("nan"), float("inf"), float("-inf"), "", "text", " 0.5 ", Text("sub"),
          "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:00Z", " 2018-09-06T19:43:00 ", "not a date",
          "2026-13-01T00:00:00", [1, "a"], (2, 3), {"b": 1, "a": [2]},
          datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc),
          datetime.date(2026, 1, 2), 1_700_000_000, 1_700_000_000.5]


def outcome(function, *args):
    """The result, or the type of the exception raised (2 ** 70 s is no time)."""
    try:
        return function(*args)
    except (OverflowError, ValueError, OSError) as error:
        return type(error)


@pytest.mark.parametrize("key", ["test_acc", "epoch", "instance", "note", *TIME_KEYS])
def test_format_cell_equals_the_general_code(key):
    for value in VALUES:
        assert outcome(format_cell, key, value) == outcome(reference_format_cell, key, value), \
            (key, value)


def test_random_floats_and_times_format_as_before():
    rng = random.Random(5)
    for _ in range(5000):
        number = rng.uniform(-1, 1) * 10 ** rng.randint(-6, 6)
        assert format_cell("test_acc", number) == reference_format_cell("test_acc", number)
        stamp = rng.uniform(-5e10, 2.5e11)
        assert format_cell("created_at", stamp) == reference_format_cell("created_at", stamp)
        moment = datetime.datetime.fromtimestamp(stamp)
        assert _minute_text(moment) == moment.strftime("%Y-%m-%d %H:%M")


def test_time_text_is_parsed_once_and_stays_right():
    listing._text_timestamp.cache_clear()
    for _ in range(3):
        assert format_cell("training_start", "2026-01-01T10:00:00Z") == \
            reference_format_cell("training_start", "2026-01-01T10:00:00Z")
    assert listing._text_timestamp.cache_info().misses == 1


class Run:
    def __init__(self, results=None, hyperparameters=None, metadata=None, status="finished"):
        self.name, self.status = "run", status
        self.results, self.hyperparameters = results or {}, hyperparameters or {}
        self.metadata = metadata or {}


def reference_lookup(run, key):
    for source in (run.results, run.hyperparameters):
        if key in source and source[key] is not None:
            return source[key]
    value = run.metadata.get(key)
    if value is None or isinstance(value, (dict, list)):
        return _MISSING
    return value


@pytest.mark.parametrize("run", [
    Run(), Run({"x": 1}, {"x": 2}), Run({"x": None}, {"x": 2}), Run({"x": None}, {"x": None}, {"x": 3}),
    Run({}, {"x": 0}), Run({"x": False}), Run(metadata={"x": [1]}), Run(metadata={"x": {"a": 1}}),
    Run({"x": 0.0}, {"x": 1.0}), Run(hyperparameters={"x": ""}, metadata={"x": "top"}),
])
def test_value_lookup_equals_the_general_code(run):
    assert value_of(run, "x") == reference_lookup(run, "x")


def test_host_name_is_what_socket_gives():
    assert hostname() == socket.gethostname()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the uname path is Linux only")
def test_host_name_does_not_import_socket(monkeypatch):
    monkeypatch.setitem(sys.modules, "socket", None)  # importing it would fail
    hostname.cache_clear()
    try:
        assert hostname()
    finally:
        hostname.cache_clear()

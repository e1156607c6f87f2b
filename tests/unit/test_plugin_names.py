"""``plugins.names()`` reads entry-point metadata only; a broken plugin fails at load time."""
import sys

import pytest

from vergeml.plugins import registry as plugins


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path with one distribution: a good and a broken operation plugin."""
    info = tmp_path / "extra_ops-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(
        "# comment\n[vergeml.operation]\n"
        "good-op = extra_ops_good:GoodOp\nbroken-op = extra_ops_broken : Nope [extra]\n")
    (tmp_path / "extra_ops_good.py").write_text("class GoodOp:\n    name = 'good-op'\n")
    (tmp_path / "extra_ops_broken.py").write_text("raise ImportError('no such thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for cached in (plugins._all_entry_points, plugins._group, plugins.load):
        cached.cache_clear()
    yield tmp_path
    for cached in (plugins._all_entry_points, plugins._group, plugins.load):
        cached.cache_clear()
    for name in ("extra_ops_good", "extra_ops_broken"):
        sys.modules.pop(name, None)


def test_names_import_no_plugin(site):
    names = plugins.names(plugins.OPERATIONS)
    assert {"good-op", "broken-op", "resize"} <= set(names) and names == sorted(names)
    assert "extra_ops_good" not in sys.modules and "extra_ops_broken" not in sys.modules


def test_a_broken_plugin_is_reported_when_loaded(site, capsys):
    assert plugins.load(plugins.OPERATIONS, "good-op").name == "good-op"
    assert plugins.load(plugins.OPERATIONS, "broken-op") is None
    assert plugins.load(plugins.OPERATIONS, "broken-op") is None  # reported once
    err = capsys.readouterr().err
    assert err.count("plugin 'broken-op' (vergeml.operation) could not be loaded") == 1
    assert [n for n, _ in plugins.available(plugins.OPERATIONS)
            if n.endswith("-op")] == ["good-op"]


def test_the_first_distribution_of_a_name_wins(site, tmp_path_factory, monkeypatch):
    later = tmp_path_factory.mktemp("later")
    info = later / "Extra.Ops-2.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("[vergeml.operation]\nlater-op = x:Y\n")
    monkeypatch.syspath_prepend(str(site))  # site before later
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(later)] + [str(later)])
    plugins._all_entry_points.cache_clear()
    plugins._group.cache_clear()
    assert "later-op" not in plugins.names(plugins.OPERATIONS)


def test_names_match_importlib_metadata():
    from importlib.metadata import entry_points
    for group in (plugins.COMMANDS, plugins.MODELS, plugins.SOURCES, plugins.OPERATIONS,
                  plugins.DOWNLOADS, plugins.PLOTS, plugins.SERVICES):
        expected = {}
        for entry in entry_points(group=group):
            expected.setdefault(entry.name, entry.value)
        assert {n: e.value for n, e in plugins._group(group).items()} == expected

"""Start-up guard: light commands import no TensorFlow, Keras, NumPy, Pillow, tqdm; and start fast.

Every check runs in a fresh interpreter, because ``sys.modules`` of the test
process is polluted by whatever other tests imported. The exit status of
the child proves the check: it exits non-zero when a heavy module was
imported or the command failed. ``bench/bench_startup.py`` measures the
0.3 s target; here the limit is generous so that a busy CI machine passes.
"""
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import REPO, ml_command, subprocess_env

pytestmark = pytest.mark.e2e

HEAVY = ("tensorflow", "keras", "tf_keras", "torch", "jax")
# The light commands import none of these either (plugin names come from metadata).
NOT_LIGHT = HEAVY + ("numpy", "PIL", "tqdm")

GUARD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    sys.argv = ["ml"] + {argv!r}
    from vergeml.cli.main import main
    code = main()
    heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
    if heavy:
        print("HEAVY IMPORTS:", heavy, file=sys.stderr)
        sys.exit(99)
    sys.exit(code)
""")

LOAD_ALL_PLUGINS = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from vergeml.plugins import registry as plugins
    groups = (plugins.COMMANDS, plugins.MODELS, plugins.SOURCES, plugins.OPERATIONS,
              plugins.DOWNLOADS, plugins.PLOTS, plugins.SERVICES)
    loaded = [(g, n) for g in groups for n in plugins.names(g)]
    for name in plugins.names(plugins.MODELS):
        plugins.instantiate(plugins.MODELS, name).commands()
    heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
    print(len(loaded), "plugins loaded")
    sys.exit(99 if heavy else 0)
""")


def run_python(code, cwd):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("argv, in_project", [
    (["help", "train"], False),
    (["help", "train"], True),
    (["--help"], False),
    (["help"], True),
    (["help", "glossary"], False),
    (["help", "learning-rate"], False),
    (["help", "architecture"], False),
    (["train", "--help"], True),
    (["predict", "-h"], True),
    (["new", "x"], False),
    (["list"], False),
    (["list"], True),
    (["--version"], False),
    ([], False),
    (["--help"], True),
    (["ls"], True),
    (["help", "resize"], True),
    (["help", "ui"], True),
    (["ui", "--help"], True),
    (["run:ui", "--help"], True),
])
def test_light_commands_do_not_import_tensorflow(make_project, tmp_path, argv, in_project):
    cwd = make_project() if in_project else tmp_path
    proc = run_python(GUARD.format(repo=str(REPO), argv=argv, heavy=NOT_LIGHT), cwd)
    assert "HEAVY IMPORTS" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if argv[:1] == ["new"]:
        assert (cwd / "x" / "vergeml.yaml").is_file()


@pytest.mark.parametrize("argv", [["trian"], ["train", "--learning_rat=1"], ["train", "--epochs=0"]])
def test_user_errors_do_not_import_tensorflow(project, argv):
    proc = run_python(GUARD.format(repo=str(REPO), argv=argv, heavy=HEAVY), project)
    assert "HEAVY IMPORTS" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr


def test_loading_every_plugin_imports_no_tensorflow(tmp_path):
    """``ml help`` may import any plugin module; none may import TF at module level."""
    proc = run_python(LOAD_ALL_PLUGINS.format(repo=str(REPO), heavy=HEAVY), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "plugins loaded" in proc.stdout


def test_guard_detects_a_heavy_import(tmp_path):
    """The guard itself works: a child that imports a heavy module exits 99."""
    code = GUARD.format(repo=str(REPO), argv=["--version"], heavy=HEAVY + ("json",))
    code = code.replace("code = main()", "import json\ncode = main()")
    proc = run_python(code, tmp_path)
    assert proc.returncode == 99 and "HEAVY IMPORTS: ['json']" in proc.stderr


def best_wall_time(argv, cwd, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(ml_command() + argv, cwd=cwd, env=subprocess_env(),
                              capture_output=True, text=True, timeout=60)
        best = min(best, time.perf_counter() - start)
        assert proc.returncode == 0, proc.stderr
    return best


def test_help_train_starts_fast(tmp_path):
    seconds = best_wall_time(["help", "train"], tmp_path)
    print(f"\nml help train: best of 5 = {seconds * 1000:.0f} ms (target 300 ms, limit 1000 ms)")
    assert seconds < 1.0

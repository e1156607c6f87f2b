"""``ml @name export`` and ``ml @name predict --export=...`` as a user runs them (subprocess)."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_ml_process, subprocess_env
from tests.export_helpers import read_meta, trained_project

# tests/integration/test_export.py checks every format in make test; this is the user's view.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory, ml_env):
    """A trained instance exported to onnx and tflite: (project, name, export result)."""
    project, name = trained_project(tmp_path_factory.mktemp("export-e2e"), ml_env)
    result = run_ml_process(f"@{name}", "export", "--format=onnx,tflite", cwd=project,
                            env=ml_env, timeout=300)
    return project, name, result


def _files(project):
    return sorted(str(p.relative_to(project)) for p in (project / "samples").rglob("*.png"))[::9]


def test_export_writes_checked_onnx_and_tflite(exported):
    project, name, result = exported
    assert result.returncode == 0, result.output[-3000:]
    assert "test images of the instance" in result.stdout
    for fmt in ("onnx", "tflite"):
        assert f"{fmt}: ok: max abs diff" in result.stdout
        folder = project / "trainings" / name / "export" / fmt
        assert (folder / ("model." + fmt)).stat().st_size > 100_000
        meta = read_meta(project, name, fmt)
        assert meta["check"]["max_abs_diff"] <= 5e-5 and meta["check"]["top1_mismatches"] == 0
        assert meta["check"]["tolerance"] == 5e-5  # one rule for every format
        assert meta["labels"] == ["0", "1", "7"] and meta["size"] == 96
    assert sorted(p.name for p in (project / "trainings" / name / "export").iterdir()) == \
        ["onnx", "tflite"]


def test_predict_through_an_export_gives_the_same_labels(exported, ml_env):
    project, name, _ = exported
    files = _files(project)
    plain = run_ml_process(f"@{name}", "predict", "--format=json", *files, cwd=project, env=ml_env)
    assert plain.returncode == 0, plain.output
    expected = [r["prediction"][0]["label"] for r in json.loads(plain.stdout)]
    for spelling in ("onnx", "export/onnx", "export/tflite"):
        got = run_ml_process(f"@{name}", "predict", f"--export={spelling}", "--format=json",
                             *files, cwd=project, env=ml_env)
        assert got.returncode == 0, got.output
        results = json.loads(got.stdout)
        assert [r["prediction"][0]["label"] for r in results] == expected, spelling
        for mine, theirs in zip(results, json.loads(plain.stdout)):
            assert abs(mine["prediction"][0]["probability"] -
                       theirs["prediction"][0]["probability"]) < 1e-4


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_predict_through_onnx_or_tflite_imports_no_tensorflow(exported, ml_env, fmt):
    project, name, _ = exported
    code = ("import sys\nfrom vergeml.cli.main import main\n"
            f"rc = main(['@{name}', 'predict', '--export={fmt}', '--compact', sys.argv[1]])\n"
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
            "print('HEAVY', heavy)\nsys.exit(rc or (3 if heavy else 0))\n")
    result = subprocess.run([sys.executable, "-c", code, _files(project)[0]], cwd=project,
                            env={**subprocess_env(ml_env), "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEAVY []" in result.stdout


def test_predict_through_a_damaged_export_fails_in_one_line(exported, ml_env, tmp_path):
    import shutil
    project, name, _ = exported
    folder = tmp_path / "broken"
    shutil.copytree(project / "trainings" / name / "export" / "onnx", folder)
    model = folder / "model.onnx"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    result = run_ml_process(f"@{name}", "predict", f"--export={folder}", _files(project)[0],
                            cwd=project, env=ml_env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot load ") and "Traceback" not in result.output


def test_predict_without_an_export_says_how_to_make_one(exported, ml_env):
    project, name, _ = exported
    result = run_ml_process(f"@{name}", "predict", "--export=savedmodel", _files(project)[0],
                            cwd=project, env=ml_env)
    assert result.returncode == 1
    assert "no export found" in result.stderr and "ml @name export" in result.stderr

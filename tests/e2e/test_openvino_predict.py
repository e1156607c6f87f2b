"""``ml @name predict --runtime=openvino``: the instance's model through OpenVINO (subprocess)."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_ml_process, subprocess_env
from tests.export_helpers import read_meta, trained_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ml_env):
    return trained_project(tmp_path_factory.mktemp("openvino-e2e"), ml_env)


def _files(project):
    return sorted(str(p.relative_to(project)) for p in (project / "samples").rglob("*.png"))[::9]


def test_predict_runtime_openvino_converts_once_matches_keras_and_imports_no_tensorflow(
        trained, ml_env):
    project, name = trained
    files = _files(project)
    plain = run_ml_process(f"@{name}", "predict", "--format=json", *files, cwd=project, env=ml_env)
    assert plain.returncode == 0, plain.output
    # first use: converts (TensorFlow once), checks it against Keras, then predicts
    first = run_ml_process(f"@{name}", "predict", "--runtime=openvino", "--format=json", *files,
                           cwd=project, env=ml_env, timeout=300)
    assert first.returncode == 0, first.output[-3000:]
    meta = read_meta(project, name, "openvino")
    assert meta["check"]["max_abs_diff"] <= 1e-4 and meta["check"]["top1_mismatches"] == 0
    folder = project / "trainings" / name / "export" / "openvino"
    assert (folder / "model.xml").is_file() and (folder / "model.bin").stat().st_size > 100_000
    expected, got = json.loads(plain.stdout), json.loads(first.stdout)  # stdout is only the JSON
    assert [r["prediction"][0]["label"] for r in got] == [r["prediction"][0]["label"] for r in expected]
    diff = max(abs(p["probability"] - q["probability"])
               for mine, theirs in zip(got, expected)
               for p, q in zip(sorted(mine["prediction"], key=lambda p: p["label"]),
                               sorted(theirs["prediction"], key=lambda p: p["label"])))
    print(f"openvino vs keras probabilities: max abs diff {diff:.2e}")
    assert diff <= 1e-4
    # later uses: the IR, without TensorFlow
    code = ("import sys\nfrom vergeml.cli.main import main\n"
            f"rc = main(['@{name}', 'predict', '--runtime=openvino', '--compact', sys.argv[1]])\n"
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
            "print('HEAVY', heavy)\nsys.exit(rc or (3 if heavy else 0))\n")
    result = subprocess.run([sys.executable, "-c", code, files[0]], cwd=project,
                            env={**subprocess_env(ml_env), "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEAVY []" in result.stdout
    assert "Converting" not in result.stderr


@pytest.mark.slow
def test_train_runtime_openvino_extracts_through_the_cached_ir(trained, ml_env):
    from tests.export_helpers import TRAIN_ARGS, instance_data
    project, name = trained
    result = run_ml_process("train", *TRAIN_ARGS, "--runtime=openvino", "--name=ov-run",
                            cwd=project, env=ml_env, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    irs = list(project.glob(".cache/openvino/*/model.xml"))
    assert len(irs) == 1 and irs[0].with_suffix(".bin").is_file()
    data = instance_data(project, "ov-run")
    assert data["hyperparameters"]["runtime"] == "openvino"
    assert data["results"]["test_acc"] >= instance_data(project, name)["results"]["test_acc"] - 0.1

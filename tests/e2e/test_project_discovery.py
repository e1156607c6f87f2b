"""``ml`` run in a folder inside a project finds the project above it, as git finds
``.git`` (issue 30, item 9); ``--project-dir`` still wins, ``ml new`` creates where it
runs, and commands outside a project work as before."""
import json

import pytest

from tests.conftest import run_ml_process
from tests.unit.list_helpers import make_run

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "proj"
    (folder / "samples" / "cat").mkdir(parents=True)
    (folder / "vergeml.yaml").write_text("model: imagenet\n")
    make_run(folder, "found-tron")
    return folder


def _listed(result):
    assert result.returncode == 0, result.output
    return [row["instance"] for row in json.loads(result.stdout)]


def test_list_inside_samples_finds_the_project(project):
    assert _listed(run_ml_process("list", "--output=json", cwd=project / "samples" / "cat")) == \
        ["found-tron"]


def test_project_dir_wins_and_new_creates_here(project, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    inside = project / "samples"
    assert _listed(run_ml_process("--project-dir", other, "list", "--output=json", cwd=inside)) == []
    assert run_ml_process("new", "sub", cwd=inside).returncode == 0
    assert (inside / "sub" / "vergeml.yaml").is_file() and not (project / "sub").exists()
    outside = run_ml_process("list", cwd=other)
    assert outside.returncode == 0 and "no trainings yet" in outside.stderr

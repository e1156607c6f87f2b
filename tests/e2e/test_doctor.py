"""``ml doctor`` on real photos with faults put in on purpose (issue 26).

A project of every 4th ant and bee of ``../shared/data/hymenoptera/train`` (a test-split
folder holds every 8th photo of ``val/``) gets: a photo copied under the other label
(conflict), a training photo copied into the test split (leak), three photos filed
under the wrong label, a blank image and a file that is no image. The real ``ml doctor``
finds each of them, prints json that parses, writes contact sheets that load; a review
file applied then undone leaves the samples byte-identical, without TensorFlow; bad input
is one line and changes nothing.
"""
import csv
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from tests.conftest import REPO, run_ml_process, subprocess_env
from tests.e2e.conftest import PHOTOS
from tests.e2e.test_fast_cli import GUARD, NOT_LIGHT, run_python

pytestmark = pytest.mark.e2e
# MobileNet v1 alpha 0.25 (the offline weights) at its native 224 px, from train: as a
# user's project would say it: the doctor takes its backbone options from there.
PROJECT_YAML = ("model: imagenet\nval-split: 15%\ntest-split: test\nrandom-seed: 42\n"
                "train:\n  architecture: mobilenet\n  alpha: 0.25\n  size: 224\n")


def build_project(project):
    """The faulty project; returns what was injected, by fault, as project-relative paths."""
    if not PHOTOS.is_dir():
        pytest.fail(f"the real photos are missing: {PHOTOS}")
    for source, target, step in (("train", "samples", 4), ("val", "test", 8)):
        for label in ("ants", "bees"):
            folder = project / target / label
            folder.mkdir(parents=True)
            for photo in sorted((PHOTOS / source / label).glob("*.jpg"))[::step]:
                shutil.copyfile(photo, folder / photo.name)
    (project / "vergeml.yaml").write_text(PROJECT_YAML)
    samples = project / "samples"
    ants, bees = sorted((samples / "ants").glob("*.jpg")), sorted((samples / "bees").glob("*.jpg"))
    shutil.copyfile(ants[0], samples / "bees" / f"copy-{ants[0].name}")
    shutil.copyfile(bees[1], project / "test" / "bees" / f"copy-{bees[1].name}")
    flipped = {}
    for photo, other in ((ants[5], "bees"), (ants[10], "bees"), (bees[7], "ants")):
        photo.rename(samples / other / photo.name)
        flipped[f"samples/{other}/{photo.name}"] = photo.parent.name  # the true label
    Image.new("RGB", (224, 224), (128, 128, 128)).save(samples / "ants" / "blank.jpg")
    (samples / "bees" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG after all" * 8)
    return {"conflict": {f"samples/ants/{ants[0].name}", f"samples/bees/copy-{ants[0].name}"},
            "leak": {f"samples/bees/{bees[1].name}", f"test/bees/copy-{bees[1].name}"},
            "flipped": flipped, "blank": "samples/ants/blank.jpg", "broken": "samples/bees/broken.jpg"}


@pytest.fixture(scope="module")
def audited(tmp_path_factory, ml_env):
    """``(project, injected, result of the first ml doctor)``: the features are extracted then."""
    project = tmp_path_factory.mktemp("doctor") / "ants"
    project.mkdir()
    injected = build_project(project)
    result = run_ml_process("doctor", cwd=project, env=ml_env, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    return project, injected, result


def snapshot(project):
    """``{path relative to the project: sha256}`` of every file under samples/ and removed/."""
    return {p.relative_to(project).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in ("samples", "removed") if (project / folder).is_dir()
            for p in sorted((project / folder).rglob("*")) if p.is_file()}


def errors(result):
    """The ``Error:`` lines of a run's stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def ml_importtime(*args, cwd, env):
    """``python -X importtime -m vergeml *args``: (result, the modules it imported)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "vergeml", *args], cwd=cwd,
                          env=subprocess_env(env), capture_output=True, text=True, timeout=120)
    lines = proc.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    return proc, {m.split(".")[0] for m in imported}


def test_the_table_lists_the_faults_a_summary_and_the_contact_sheets(audited):
    project, injected, result = audited
    out = result.stdout
    for heading in ("label: ", "conflict: ", "leak: ", "duplicate: ", "quality: "):
        assert any(line.startswith(heading) for line in out.splitlines()), out
    summary = next(line for line in out.splitlines() if " findings in " in line)
    assert summary.split(":")[0].endswith("in 86 images"), summary  # 84 readable + blank + broken
    sheets = out.split("Contact sheets:\n", 1)[1].split()
    assert {"doctor/label.png", "doctor/conflict.png", "doctor/leak.png", "doctor/quality.png"} <= set(sheets)
    for sheet in sheets:
        with Image.open(project / sheet) as image:
            image.load()
            assert image.format == "PNG" and image.width >= 600 and image.height >= 200
    assert "Traceback" not in result.stderr


def test_json_names_every_injected_fault(audited, ml_env):
    project, injected, _ = audited
    result = run_ml_process("doctor", "--format=json", cwd=project, env=ml_env)
    assert result.returncode == 0, result.output[-3000:]
    records = json.loads(result.stdout)
    assert "Extracting features" not in result.stderr  # the first run's features, from the cache
    by_kind = {}
    for record in records:
        assert set(record) == {"kind", "files", "labels", "splits", "suggested", "score", "why"}
        assert all(not f.startswith("/") and (project / f).is_file() for f in record["files"]), record
        by_kind.setdefault(record["kind"], []).append(record)
    assert any(set(r["files"]) == injected["conflict"] and set(r["labels"]) == {"ants", "bees"}
               for r in by_kind["conflict"]), by_kind.get("conflict")
    assert any(set(r["files"]) == injected["leak"] and "test" in r["splits"]
               for r in by_kind["leak"]), by_kind.get("leak")
    suggested = {r["files"][0]: r["suggested"] for r in by_kind["label"]}
    for file, true_label in injected["flipped"].items():
        assert suggested.get(file) == true_label, (file, by_kind["label"])
    quality = {f for r in by_kind["quality"] for f in r["files"]}
    assert {injected["blank"], injected["broken"]} <= quality, by_kind["quality"]


def test_review_apply_and_undo_leave_the_samples_byte_identical(audited, ml_env, tmp_path):
    project, injected, _ = audited
    before = snapshot(project)
    review = tmp_path / "review.csv"
    result = run_ml_process("doctor", f"--review={review}", cwd=project, env=ml_env)
    assert result.returncode == 0 and review.is_file(), result.output[-3000:]
    rows = list(csv.DictReader(review.open(newline="")))
    assert {r["file"] for r in rows} >= set(injected["flipped"]) | {injected["blank"]}
    for row in rows:  # what a user does in a spreadsheet: accept the suggestions, drop the blank
        if row["file"] in injected["flipped"]:
            row["action"] = f"relabel:{row['suggested']}"
        elif row["file"] == injected["blank"]:
            row["action"] = "remove"
    with review.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    applied, imported = ml_importtime("doctor", f"--apply={review}", cwd=project, env=ml_env)
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert not imported & {"tensorflow", "keras"}
    after = snapshot(project)
    for file, true_label in injected["flipped"].items():
        name = file.rsplit("/", 1)[1]
        assert f"samples/{true_label}/{name}" in after and file not in after
    assert "removed/ants/blank.jpg" in after and injected["blank"] not in after

    undone, imported = ml_importtime("doctor", "--undo", cwd=project, env=ml_env)
    assert undone.returncode == 0, undone.stderr[-3000:]
    assert not imported & {"tensorflow", "keras"}
    assert snapshot(project) == before
    again = run_ml_process("doctor", "--undo", cwd=project, env=ml_env)
    assert again.returncode == 2 and "nothing to undo" in again.stderr


def test_a_bad_review_file_is_one_line_naming_the_row_and_changes_nothing(audited, ml_env, tmp_path):
    project, injected, _ = audited
    before = snapshot(project)
    journals = sorted((project / ".doctor").glob("*")) if (project / ".doctor").is_dir() else []
    review = tmp_path / "bad.csv"
    (good, true_label), (bad, _) = sorted(injected["flipped"].items())[:2]
    review.write_text("kind,file,label,split,suggested,score,action\n"
                      f"label,{good},{good.split('/')[1]},train,{true_label},0.9,relabel:{true_label}\n"
                      f"label,{bad},{bad.split('/')[1]},train,,0.9,relabel:wasps\n")
    result = run_ml_process("doctor", f"--apply={review}", cwd=project, env=ml_env)
    assert result.returncode == 2, result.output
    assert len(errors(result)) == 1 and "bad.csv row 3" in errors(result)[0], result.stderr
    assert "wasps" in errors(result)[0] and "Traceback" not in result.stderr
    assert snapshot(project) == before
    assert (sorted((project / ".doctor").glob("*")) if (project / ".doctor").is_dir() else []) == journals


def test_outside_a_project_and_without_labels_it_is_one_line(ml_env, tmp_path):
    outside = run_ml_process("doctor", cwd=tmp_path, env=ml_env)
    assert outside.returncode == 2 and len(errors(outside)) == 1, outside.output
    assert "not in a project" in errors(outside)[0] and "Traceback" not in outside.stderr
    unlabeled = tmp_path / "unlabeled"
    (unlabeled / "samples").mkdir(parents=True)
    Image.new("RGB", (64, 64), (10, 200, 10)).save(unlabeled / "samples" / "a.jpg")
    (unlabeled / "vergeml.yaml").write_text("model: imagenet\ndata:\n  input:\n    type: image\n")
    result = run_ml_process("doctor", cwd=unlabeled, env=ml_env)
    assert result.returncode == 2 and len(errors(result)) == 1, result.output
    assert "needs labeled samples" in errors(result)[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["help", "doctor"], ["doctor", "--help"]])
def test_help_on_doctor_imports_nothing_heavy(argv, make_project):
    proc = run_python(GUARD.format(repo=str(REPO), argv=argv, heavy=NOT_LIGHT), make_project())
    assert proc.returncode == 0 and "HEAVY IMPORTS" not in proc.stderr, proc.stderr
    assert "--review=<FILE>" in proc.stdout and "--architecture=" in proc.stdout

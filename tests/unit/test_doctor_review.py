"""The review file of ``ml doctor``: written one row per file of a finding, read back
with every row checked first (a bad row is named and nothing changes), and accepted
as spreadsheets save it."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vergeml.doctor.findings import Finding
from vergeml.doctor.review import COLUMNS, Move, read_review, write_review
from vergeml.errors import UsageError

LABELS = ["ants", "bees"]
HEADER = ",".join(COLUMNS)


def write_jpeg(path, seed, size=(12, 10)):
    """A small JPEG of seeded noise (distinct bytes per seed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)
    return path


def tiny_project(root, per_class=3, labels=LABELS):
    """``root/samples/<label>/<label>_<i>.jpg`` and a ``vergeml.yaml``; returns ``root``."""
    root = Path(root)
    for c, label in enumerate(labels):
        for i in range(per_class):
            write_jpeg(root / "samples" / label / f"{label}_{i}.jpg", seed=100 * c + i)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    return root


def manifest(root, skip=()):
    """``{relative path: sha256}`` of every file below ``root`` (``skip``: names left out)."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}


def review_text(*rows, header=HEADER):
    """A review CSV from ``(file, label, action)`` rows (the other columns filled in)."""
    lines = [header] + [f"label,{file},{label},train,,0.5000,{action}" for file, label, action in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "p")


def read(project, text=None, data=None, labels=LABELS):
    path = project / "review.csv"
    path.write_bytes(data if data is not None else text.encode("utf-8"))
    return read_review(path, project, "samples", labels)


def test_write_review_gives_a_row_per_file_of_a_finding(tmp_path):
    findings = [
        Finding("label", ("samples/ants/ants_0.jpg",), 0.9, "looks like a bee", ("ants",), ("train",), "bees"),
        Finding("duplicate", ("samples/ants/ants_0.jpg", "samples/bees/bees_1.jpg"), 1.0, "same bytes",
                ("ants", "bees"), ("train", "test")),
        Finding("imbalance", (), 0.4, "3:1"),
    ]
    path = tmp_path / "review.csv"
    assert write_review(path, findings) == 3
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [HEADER,
                     "label,samples/ants/ants_0.jpg,ants,train,bees,0.9000,keep",
                     "duplicate,samples/ants/ants_0.jpg,ants,train,,1.0000,keep",
                     "duplicate,samples/bees/bees_1.jpg,bees,test,,1.0000,keep"]
    assert not [p for p in tmp_path.iterdir() if p.name != "review.csv"]  # no temporary left


def test_an_untouched_review_moves_nothing_and_edited_actions_become_moves(project):
    findings = [Finding("label", ("samples/ants/ants_0.jpg",), 0.9, "", ("ants",), ("train",), "bees"),
                Finding("outlier", ("samples/bees/bees_2.jpg",), 0.7, "", ("bees",), ("val",))]
    path = project / "review.csv"
    write_review(path, findings)
    assert read_review(path, project, "samples", LABELS) == []
    text = path.read_text(encoding="utf-8").replace("bees,0.9000,keep", "bees,0.9000,relabel:bees")
    path.write_text(text.replace("0.7000,keep", "0.7000,remove"), encoding="utf-8")
    assert read_review(path, project, project / "samples", LABELS) == [
        Move("samples/ants/ants_0.jpg", "ants", "relabel", "bees"),
        Move("samples/bees/bees_2.jpg", "bees", "remove", "")]


def test_spreadsheet_edits_are_accepted(project):
    rows = [HEADER + ",note",
            "label,samples/ants/ants_0.jpg,ants,train,bees,0.9,  Relabel:bees ,looks like a bee",
            "",
            "outlier,samples/bees/bees_1.jpg,bees,val,,0.5,REMOVE,",
            "outlier, samples/bees/bees_2.jpg ,bees,val,,0.5, Keep,",
            "duplicate,samples/bees/bees_1.jpg,bees,val,,0.5,remove,",  # same action again: one move
            ",,,,,,,", ",,,,,,,", ""]
    data = b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8")
    assert read(project, data=data) == [Move("samples/ants/ants_0.jpg", "ants", "relabel", "bees"),
                                        Move("samples/bees/bees_1.jpg", "bees", "remove", "")]
    semicolons = "kind;file;label;split;suggested;score;action\r\nlabel;samples/ants/ants_1.jpg;ants;train;;0,5;remove\r\n"
    assert read(project, semicolons) == [Move("samples/ants/ants_1.jpg", "ants", "remove", "")]
    columns_moved = "\ufeffAction,File,Label\nremove,samples/ants/ants_2.jpg,\n"  # order, case; label left empty
    assert read(project, columns_moved) == [Move("samples/ants/ants_2.jpg", "ants", "remove", "")]


def test_a_relabel_to_its_own_label_is_a_keep(project):
    assert read(project, review_text(("samples/ants/ants_0.jpg", "ants", "relabel:ants"))) == []


BAD = [
    # (rows, expected message after "review.csv row N: ")
    ([("samples/ants/nope.jpg", "ants", "remove")], 2, "no such file 'samples/ants/nope.jpg'"),
    ([("samples/ants/ants_0.jpg", "ants", "remove"), ("samples/ants/nope.jpg", "ants", "keep")], 3,
     "no such file 'samples/ants/nope.jpg'"),
    ([("samples/ants/ants_0.jpg", "ants", "keep"), ("samples/ants/ants_1.jpg", "bees", "remove")], 3,
     "'samples/ants/ants_1.jpg' is in the class folder 'ants', not 'bees'"),
    ([("samples/ants/ants_0.jpg", "ants", "keep"), ("samples/ants/ants_1.jpg", "ants", "relabel:beez")], 3,
     "unknown label 'beez' in 'relabel:beez' (labels: ants, bees)"),
    ([("samples/ants/ants_0.jpg", "ants", "delete")], 2, "unknown action 'delete'"),
    ([("samples/ants/ants_0.jpg", "ants", "relabel")], 2, "unknown action 'relabel'"),
    ([("samples/ants/ants_0.jpg", "ants", "")], 2, "the action is empty"),
    ([("samples/ants/ants_0.jpg", "ants", "remove"), ("samples/bees/bees_0.jpg", "bees", "keep"),
      ("samples/ants/ants_0.jpg", "ants", "relabel:bees")], 4,
     "'samples/ants/ants_0.jpg' is to relabel:bees here but to remove in row 2"),
    ([("vergeml.yaml", "", "remove")], 2, "'vergeml.yaml' is not in the samples folder samples"),
    ([("samples/../../outside.jpg", "", "remove")], 2, "is not in the samples folder"),
    ([("samples/stray.jpg", "", "remove")], 2, "'samples/stray.jpg' is not in a class folder (ants, bees)"),
    ([("", "ants", "remove")], 2, "the file column is empty"),
]


@pytest.mark.parametrize("rows, number, message", BAD)
def test_a_bad_row_is_named_and_nothing_changes(project, rows, number, message):
    write_jpeg(project / "samples" / "stray.jpg", seed=7)
    write_jpeg(project.parent / "outside.jpg", seed=8)
    before = manifest(project, skip={"review.csv"})
    with pytest.raises(UsageError) as err:
        read(project, review_text(*rows))
    text = str(err.value)
    assert text.startswith(f"review.csv row {number}: ") and message in text, text
    assert "\n" not in text
    assert manifest(project, skip={"review.csv"}) == before


def test_every_row_is_checked_and_the_first_bad_one_named(project):
    text = review_text(("samples/ants/ants_0.jpg", "ants", "remove"), ("samples/ants/x.jpg", "ants", "remove"),
                       ("samples/bees/bees_0.jpg", "bees", "relabel:wasps"))
    with pytest.raises(UsageError, match=r"^review.csv row 3: no such file .* \(and 1 more row\(s\) with problems\)$"):
        read(project, text)


def test_blank_rows_keep_the_row_numbers_a_spreadsheet_shows(project):
    text = HEADER + "\n\n,,,,,,\nlabel,samples/ants/ants_0.jpg,ants,train,,0.5,nuke\n"
    with pytest.raises(UsageError, match=r"^review.csv row 4: unknown action 'nuke'"):
        read(project, text)


@pytest.mark.parametrize("data, message", [
    (b"", "review.csv is empty"),
    (b"\xef\xbb\xbf\r\n,,,\r\n", "review.csv is empty"),
    ((HEADER + "\nlabel,samples/ants/ants_0.jpg,ants,train,,0.5,relabel:b\xe9es\n").encode("latin-1"),
     "review.csv is not UTF-8 text"),
    (b"kind,file,label,split,suggested,score\nlabel,samples/ants/ants_0.jpg,ants,train,,0.5\n",
     "review.csv row 1: no column action in the header"),
    (b"kind,label,split\n", "review.csv row 1: no column file, action in the header"),
])
def test_an_unusable_file_is_refused(project, data, message):
    before = manifest(project, skip={"review.csv"})
    with pytest.raises(UsageError) as err:
        read(project, data=data)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert manifest(project, skip={"review.csv"}) == before


def test_a_missing_review_file_is_a_usage_error(project):
    with pytest.raises(UsageError, match="cannot read the review file"):
        read_review(project / "nope.csv", project, "samples", LABELS)


def test_a_project_without_labels_can_remove_but_not_relabel(tmp_path):
    root = tmp_path / "p"
    write_jpeg(root / "samples" / "a.jpg", seed=1)
    write_jpeg(root / "samples" / "deep" / "b.jpg", seed=2)
    assert read(root, review_text(("samples/deep/b.jpg", "", "remove")), labels=[]) == [
        Move("samples/deep/b.jpg", "", "remove", "")]
    with pytest.raises(UsageError, match=r"^review.csv row 2: cannot 'relabel:x': the project has no labels"):
        read(root, review_text(("samples/a.jpg", "", "relabel:x")), labels=[])

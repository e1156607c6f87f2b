"""``ml doctor --apply`` and ``--undo``: the journal is written first, files move by
rename without overwriting, and undo puts the samples back byte for byte, after a
finished apply, after one stopped half-way, or not at all when a file is missing."""
import json
import os

import pytest

from tests.unit.test_data_helpers import age, make_env
from tests.unit.test_doctor_review import LABELS, manifest, review_text, tiny_project, write_jpeg
from vergeml.data import load_dataset
from vergeml.data.split import SPLITS
from vergeml.data.split_memory import MEMORY_FILE
from vergeml.doctor import journal
from vergeml.doctor.journal import apply_moves, undo
from vergeml.doctor.review import Move, read_review
from vergeml.errors import UsageError, VergeMLError

MOVES = [Move("samples/ants/ants_0.jpg", "ants", "relabel", "bees"),
         Move("samples/bees/bees_1.jpg", "bees", "remove"),
         Move("samples/ants/ants_2.jpg", "ants", "remove"),
         Move("samples/bees/bees_2.jpg", "bees", "relabel", "ants")]


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "p")


def samples_and_removed(project):
    """What the user sees: the samples and the removed folder."""
    return {"samples": manifest(project / "samples"), "removed": manifest(project / "removed")}


def journals(project):
    return sorted((project / ".doctor").glob("journal-*.json"))


def test_apply_moves_the_files_and_undo_puts_them_back_byte_identical(project):
    before = manifest(project / "samples")
    path, count = apply_moves(project, "samples", MOVES)
    assert count == 4 and path.parent == project / ".doctor"
    after = manifest(project)
    assert after["samples/bees/ants_0.jpg"] == before["ants/ants_0.jpg"]
    assert after["removed/bees/bees_1.jpg"] == before["bees/bees_1.jpg"]
    assert after["removed/ants/ants_2.jpg"] == before["ants/ants_2.jpg"]
    assert after["samples/ants/bees_2.jpg"] == before["bees/bees_2.jpg"]
    assert "samples/ants/ants_0.jpg" not in after and "samples/bees/bees_1.jpg" not in after
    record = json.loads(path.read_text())
    assert record["state"] == "applied" and record["done"] == 4
    assert [m["source"] for m in record["moves"]] == [m.file for m in MOVES]
    assert record["moves"][0]["digest"] == before["ants/ants_0.jpg"]
    assert undo(project) == 4
    assert manifest(project / "samples") == before
    assert not (project / "removed").exists()  # the folders it created are gone
    assert json.loads(path.read_text())["state"] == "undone"


def test_the_journal_is_written_before_the_first_file_moves(project, monkeypatch):
    seen = []
    real = journal._move

    def spy(source, destination):
        if not seen:
            (path,) = journals(project)
            record = json.loads(path.read_text())
            seen.append([(m["source"], m["destination"]) for m in record["moves"]])
            assert source.exists()  # nothing moved yet
        real(source, destination)
    monkeypatch.setattr(journal, "_move", spy)
    apply_moves(project, "samples", MOVES)
    assert seen == [[("samples/ants/ants_0.jpg", "samples/bees/ants_0.jpg"),
                     ("samples/bees/bees_1.jpg", "removed/bees/bees_1.jpg"),
                     ("samples/ants/ants_2.jpg", "removed/ants/ants_2.jpg"),
                     ("samples/bees/bees_2.jpg", "samples/ants/bees_2.jpg")]]


def test_undo_twice_says_there_is_nothing_to_undo(project):
    with pytest.raises(UsageError, match="^nothing to undo"):
        undo(project)
    apply_moves(project, "samples", MOVES[:1])
    assert undo(project) == 1
    with pytest.raises(UsageError, match=r"^nothing to undo: .*\(1 journal\(s\), all undone\)$"):
        undo(project)


def test_undo_goes_back_one_apply_at_a_time(project):
    start = samples_and_removed(project)
    apply_moves(project, "samples", MOVES[:2])
    middle = samples_and_removed(project)
    apply_moves(project, "samples", [Move("samples/bees/ants_0.jpg", "bees", "remove")])
    assert len(journals(project)) == 2
    assert undo(project) == 1
    assert samples_and_removed(project) == middle
    assert undo(project) == 2
    assert samples_and_removed(project) == start
    with pytest.raises(UsageError):
        undo(project)


def test_name_clashes_get_a_suffix_and_nothing_is_overwritten(project):
    clash = write_jpeg(project / "samples" / "bees" / "ants_0.jpg", seed=900)   # relabel target taken
    earlier = write_jpeg(project / "removed" / "ants" / "ants_1.jpg", seed=901)  # removed before
    write_jpeg(project / "samples" / "bees" / "ants_0 (2).jpg", seed=902)
    nested = write_jpeg(project / "samples" / "ants" / "sub" / "deep.jpg", seed=903)
    before, kept = manifest(project), {p: p.read_bytes() for p in (clash, earlier)}
    moves = [Move("samples/ants/ants_0.jpg", "ants", "relabel", "bees"),
             Move("samples/ants/ants_1.jpg", "ants", "remove"),
             Move("samples/ants/sub/deep.jpg", "ants", "remove")]
    apply_moves(project, "samples", moves)
    after = manifest(project)
    assert after["samples/bees/ants_0 (3).jpg"] == before["samples/ants/ants_0.jpg"]
    assert after["removed/ants/ants_1 (2).jpg"] == before["samples/ants/ants_1.jpg"]
    assert after["removed/ants/sub/deep.jpg"] == before["samples/ants/sub/deep.jpg"]
    assert all(p.read_bytes() == data for p, data in kept.items())
    assert undo(project) == 3
    assert {k: v for k, v in manifest(project).items() if not k.startswith(".doctor/")} == before
    assert nested.is_file() and not (project / "removed" / "ants" / "sub").exists()
    assert (project / "removed" / "ants").is_dir()  # it was there before: kept


def test_two_moves_to_one_name_get_two_names(project):
    write_jpeg(project / "samples" / "bees" / "sub" / "ants_0.jpg", seed=5)
    moves = [Move("samples/ants/ants_0.jpg", "ants", "remove"),
             Move("samples/bees/sub/ants_0.jpg", "bees", "relabel", "ants")]
    before = manifest(project / "samples")
    apply_moves(project, "samples", moves + [Move("samples/ants/ants_1.jpg", "ants", "relabel", "bees")])
    assert (project / "removed" / "ants" / "ants_0.jpg").is_file()
    assert (project / "samples" / "ants" / "sub" / "ants_0.jpg").is_file()
    undo(project)
    assert manifest(project / "samples") == before


@pytest.mark.parametrize("k", range(len(MOVES)))
@pytest.mark.parametrize("how", ["error before the move", "ctrl-c after the rename", "killed"])
def test_an_apply_stopped_after_k_moves_is_undone_completely(project, monkeypatch, k, how):
    before = samples_and_removed(project)
    real, calls = journal._move, []

    def crashing(source, destination):
        calls.append(source)
        if len(calls) <= k:
            return real(source, destination)
        if how == "error before the move":
            raise PermissionError(13, "Permission denied", str(source))
        real(source, destination)  # renamed, but the journal never hears of it
        raise KeyboardInterrupt
    monkeypatch.setattr(journal, "_move", crashing)
    if how == "killed":  # kill -9: the journal keeps what was written before the first move
        saves = []
        monkeypatch.setattr(journal, "_save", lambda path, record: saves.append(1) or (
            None if len(saves) > 1 else journal.atomic_write_text(path, json.dumps(record))))
    expected = (VergeMLError, KeyboardInterrupt)
    with pytest.raises(expected) as err:
        apply_moves(project, "samples", MOVES)
    if how == "error before the move":
        assert str(err.value).startswith(f"stopped after moving {k} of 4 file(s): Permission denied")
    monkeypatch.undo()
    (path,) = journals(project)
    record = json.loads(path.read_text())
    assert record["state"] == "applying"
    assert record["done"] == (0 if how == "killed" else k)
    moved = k + (0 if how == "error before the move" else 1)
    assert undo(project) == moved
    assert samples_and_removed(project) == before
    with pytest.raises(UsageError, match="^nothing to undo"):
        undo(project)


def test_undo_stopped_half_way_continues(project, monkeypatch):
    before = manifest(project / "samples")
    apply_moves(project, "samples", MOVES)
    real, calls = os.rename, []

    def crashing(source, destination):
        calls.append(source)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(source, destination)
    monkeypatch.setattr(journal.os, "rename", crashing)
    with pytest.raises(KeyboardInterrupt):
        undo(project)
    monkeypatch.undo()
    assert undo(project) == 2
    assert manifest(project / "samples") == before


def test_undo_with_a_moved_file_missing_names_it_and_moves_nothing(project):
    apply_moves(project, "samples", MOVES)
    (project / "removed" / "ants" / "ants_2.jpg").unlink()
    state = manifest(project)
    with pytest.raises(VergeMLError, match=r"^cannot undo: removed/ants/ants_2.jpg is missing or changed"):
        undo(project)
    assert manifest(project) == state
    write_jpeg(project / "removed" / "ants" / "ants_2.jpg", seed=42)  # another picture there
    with pytest.raises(VergeMLError, match="removed/ants/ants_2.jpg is missing or changed"):
        undo(project)


def test_undo_with_the_old_place_taken_names_it_and_moves_nothing(project):
    before = manifest(project / "samples")
    apply_moves(project, "samples", MOVES)
    newcomer = write_jpeg(project / "samples" / "bees" / "bees_1.jpg", seed=77)
    state = manifest(project)
    with pytest.raises(VergeMLError, match=r"^cannot undo: samples/bees/bees_1.jpg exists again"):
        undo(project)
    assert manifest(project) == state
    newcomer.unlink()
    assert undo(project) == 4
    assert manifest(project / "samples") == before


def test_bad_moves_write_no_journal(project):
    with pytest.raises(UsageError, match="no such file 'samples/ants/gone.jpg'"):
        apply_moves(project, "samples", [MOVES[0], Move("samples/ants/gone.jpg", "ants", "remove")])
    with pytest.raises(UsageError, match="to be moved twice"):
        apply_moves(project, "samples", [MOVES[0], MOVES[0]])
    assert not journals(project) and (project / "samples" / "ants" / "ants_0.jpg").is_file()
    assert apply_moves(project, "samples", []) == (None, 0)
    assert not journals(project)


def test_emptying_a_class_folder_warns(project, capsys):
    apply_moves(project, "samples", [Move(f"samples/bees/bees_{i}.jpg", "bees", "relabel", "ants")
                                     for i in range(3)])
    assert "the class folder samples/bees holds no file now" in capsys.readouterr().err


def membership(ds):
    return {s.relpath: s.split for split in SPLITS for s in ds.samples(split)}


def test_a_relabelled_image_keeps_its_remembered_split(tmp_path):
    """The split memory matches a moved file by its content digest: relabelled, it keeps its split
    (a training image is not re-split into val or test, a test image stays in test)."""
    project = tiny_project(tmp_path / "p", per_class=12)
    age(project)
    before = membership(load_dataset(make_env(project)))
    assert (project / MEMORY_FILE).is_file()
    train = sorted(r for r, s in before.items() if s == "train" and r.startswith("ants/"))[0]
    test = sorted(r for r, s in before.items() if s == "test" and r.startswith("ants/"))[0]
    review = project / "review.csv"
    review.write_text(review_text((f"samples/{train}", "ants", "relabel:bees"),
                                  (f"samples/{test}", "ants", "relabel:bees")), encoding="utf-8")
    remembered = json.loads((project / MEMORY_FILE).read_text())["assignments"][0]["files"]
    apply_moves(project, "samples", read_review(review, project, "samples", LABELS))
    after = membership(load_dataset(make_env(project)))
    moved = {rel: "bees/" + rel.split("/", 1)[1] for rel in (train, test)}
    assert after[moved[train]] == "train" and after[moved[test]] == "test"
    now = json.loads((project / MEMORY_FILE).read_text())["assignments"][0]["files"]
    assert all(now[moved[rel]] == remembered[rel] for rel in moved)  # same digest, same split
    # every other image keeps its split too, except an ants training image that refills ants' test
    changed = {r: (s, after[r]) for r, s in before.items() if r in after and after[r] != s}
    assert list(changed.values()) in ([], [("train", "test")])
    undo(project)
    back = membership(load_dataset(make_env(project)))
    assert back[train] == "train" and back[test] == "test"
    # the image that refilled ants' test stays there: test images never go back to train
    assert {r: (s, back[r]) for r, s in before.items() if back[r] != s} == changed

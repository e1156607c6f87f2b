"""The remembered split assignment (vergeml.splits.json) through load_dataset: growing
projects, a deleted cache, --cache=none, changed settings, damaged files, concurrent runs."""
import json
import shutil
import threading
from collections import Counter

import pytest

from tests.unit.test_data_helpers import age, image_project, make_env, write_image
from vergeml.data import load_dataset
from vergeml.data.split import SPLITS, SplitItem, SplitSpec
from vergeml.data.split_memory import MEMORY_FILE, remembered_splits
from vergeml.errors import ConfigError

P10 = SplitSpec("percent", 0.1)


def membership(ds):
    return {s.relpath: s.split for split in SPLITS for s in ds.samples(split)}


def per_class(ds):
    counts = Counter((s.label, s.split) for split in SPLITS for s in ds.samples(split))
    return {label: tuple(counts[label, split] for split in SPLITS) for label in ds.labels}


def add_images(project, label, n, start):
    for i in range(n):
        write_image(project / "samples" / label / f"new{start + i}.png",
                    seed=10_000 + 1_000 * len(label) * ord(label[0]) + start + i)
    age(project / "samples")


def test_a_growing_project_keeps_val_and_test_out_of_train(tmp_path):
    project = image_project(tmp_path / "p", per_class=10)
    first = load_dataset(make_env(project))
    assert per_class(first) == {"cat": (8, 1, 1), "dog": (8, 1, 1)}
    assert (project / MEMORY_FILE).is_file()
    seen, fingerprint = membership(first), first.fingerprint
    for round_, (n_cat, n_dog) in enumerate([(5, 1), (7, 3), (2, 11), (20, 4)]):
        add_images(project, "cat", n_cat, 100 * round_)
        add_images(project, "dog", n_dog, 100 * round_)
        ds = load_dataset(make_env(project))
        now = membership(ds)
        assert not [r for r, s in seen.items() if s != "train" and now[r] == "train"], round_
        assert ds.fingerprint != fingerprint  # membership changed
        seen, fingerprint = now, ds.fingerprint
        for label, (train, val, test) in per_class(ds).items():
            want = max(int((train + val + test) * 0.1 + 0.5), 1)  # 10 %, halves up, at least 1
            assert abs(val - want) <= 1 and abs(test - want) <= 1, (round_, label)


def test_a_deleted_cache_keeps_the_split(tmp_path):
    project = image_project(tmp_path / "p", per_class=12)
    load_dataset(make_env(project))
    add_images(project, "cat", 9, 0)
    before = membership(load_dataset(make_env(project)))
    shutil.rmtree(project / ".cache")
    assert membership(load_dataset(make_env(project))) == before


def test_cache_none_reads_and_writes_the_memory_but_not_the_cache(tmp_path):
    project = image_project(tmp_path / "p", per_class=12)
    first = membership(load_dataset(make_env(project, cache="none")))
    assert (project / MEMORY_FILE).is_file() and not (project / ".cache").exists()
    add_images(project, "dog", 8, 0)
    grown = membership(load_dataset(make_env(project, cache="none")))
    assert all(grown[r] != "train" for r, s in first.items() if s != "train")
    assert membership(load_dataset(make_env(project))) == grown
    assert not (project / ".cache" / MEMORY_FILE).exists()


def test_changed_settings_recompute_and_going_back_continues(tmp_path):
    project = image_project(tmp_path / "p", per_class=20)
    load_dataset(make_env(project))
    add_images(project, "cat", 15, 0)
    grown = membership(load_dataset(make_env(project)))
    # a fresh project with the same images would split them differently
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(project / "samples", fresh_dir / "samples")
    fresh = membership(load_dataset(make_env(fresh_dir)))
    assert fresh != grown
    for settings in ({"val_split": "20%"}, {"test_split": "5"}, {"random_seed": 7}):
        changed = membership(load_dataset(make_env(project, **settings)))
        assert changed == membership(load_dataset(make_env(fresh_dir, **settings))), settings
    assert membership(load_dataset(make_env(project))) == grown  # back: the remembered one
    entries = json.loads((project / MEMORY_FILE).read_text())["assignments"]
    assert len(entries) == 4 and entries[0]["settings"]["val"] == ["percent", "0.1"]


def test_removed_images_keep_the_others_in_place(tmp_path):
    project = image_project(tmp_path / "p", per_class=30)
    before = membership(load_dataset(make_env(project)))
    gone = sorted(r for r, s in before.items() if s == "val")[:2]
    moved = {}
    for rel in gone:
        path = project / "samples" / rel
        moved[rel] = path.read_bytes()
        path.unlink()
    after = membership(load_dataset(make_env(project)))
    assert all(after[r] == s for r, s in before.items() if r in after and s != "train")
    assert Counter(after.values())["val"] == 6   # cat: 10 % of 28 rounds to 3: refilled
    for rel, data in moved.items():
        (project / "samples" / rel).write_bytes(data)
    age(project / "samples")
    back = membership(load_dataset(make_env(project)))
    assert all(back[r] == "val" for r in gone)


def test_renamed_image_keeps_its_split(tmp_path):
    project = image_project(tmp_path / "p", per_class=20)
    before = membership(load_dataset(make_env(project)))
    rel = sorted(r for r, s in before.items() if s == "test")[0]
    (project / "samples" / rel).rename(project / "samples" / "cat" / "renamed.png")
    after = membership(load_dataset(make_env(project)))
    assert after["cat/renamed.png"] == "test"


def test_an_unchanged_run_does_not_rewrite_the_file(tmp_path):
    project = image_project(tmp_path / "p", per_class=10)
    load_dataset(make_env(project))
    stamp = (project / MEMORY_FILE).stat().st_mtime_ns
    load_dataset(make_env(project))
    assert (project / MEMORY_FILE).stat().st_mtime_ns == stamp


@pytest.mark.parametrize("damage", ["truncated", "conflict", "not-utf8", "wrong-shape"])
def test_a_damaged_file_stops_the_run_and_is_left_as_it_is(tmp_path, damage):
    project = image_project(tmp_path / "p", per_class=10)
    expected = membership(load_dataset(make_env(project)))
    good = (project / MEMORY_FILE).read_text()
    lines = good.splitlines(keepends=True)
    damaged = {"truncated": good[:len(good) // 2].encode(),
               "conflict": "".join(lines[:3] + ["<<<<<<< HEAD\n"] + lines[3:4] + ["=======\n",
                                   ">>>>>>> other\n"] + lines[4:]).encode(),
               "not-utf8": good.encode().replace(b"cat", b"c\xffat", 1),
               "wrong-shape": b'{"format": 1, "assignments": [{"settings": 3}]}'}[damage]
    (project / MEMORY_FILE).write_bytes(damaged)
    with pytest.raises(ConfigError) as raised:
        load_dataset(make_env(project))
    assert raised.value.message.startswith(f"{MEMORY_FILE} ")
    assert f"mv {MEMORY_FILE} {MEMORY_FILE}.damaged" in raised.value.hint
    if damage == "conflict":
        assert "git conflict markers" in raised.value.message
    assert (project / MEMORY_FILE).read_bytes() == damaged  # nothing lost or replaced
    (project / MEMORY_FILE).rename(project / f"{MEMORY_FILE}.damaged")  # the way out the hint gives
    assert membership(load_dataset(make_env(project))) == expected


def test_concurrent_runs_lose_no_images(tmp_path):
    """Each thread assigns its own new images; all of them end up remembered."""
    project = tmp_path / "p"
    project.mkdir()
    base = [SplitItem(f"a/{i}.png", f"d{i}", "a") for i in range(300)]
    remembered_splits(project, base, P10, P10, 1, True)
    results, errors = {}, []

    def run(k):
        try:
            mine = base + [SplitItem(f"a/t{k}-{i}.png", f"t{k}-{i}", "a") for i in range(50)]
            results[k] = dict(zip((i.relpath for i in mine),
                                  remembered_splits(project, mine, P10, P10, 1, True)))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    files = json.loads((project / MEMORY_FILE).read_text())["assignments"][0]["files"]
    for k, assigned in results.items():
        for rel, split in assigned.items():
            assert files[rel][1] == split, (k, rel)


def test_same_images_same_membership_in_a_fresh_project(tmp_path):
    one = image_project(tmp_path / "one", per_class=25)
    two = tmp_path / "two"
    shutil.copytree(one / "samples", two / "samples")
    assert membership(load_dataset(make_env(one))) == membership(load_dataset(make_env(two)))


def test_the_fingerprint_follows_membership(tmp_path):
    """Same files, same settings: the fingerprint differs exactly when the split does."""
    project = image_project(tmp_path / "p", per_class=20)
    load_dataset(make_env(project))
    add_images(project, "cat", 15, 0)
    grown = load_dataset(make_env(project))
    other = tmp_path / "fresh"
    shutil.copytree(project / "samples", other / "samples")
    fresh = load_dataset(make_env(other))
    assert membership(fresh) != membership(grown) and fresh.fingerprint != grown.fingerprint
    shutil.copy(project / MEMORY_FILE, other / MEMORY_FILE)
    same = load_dataset(make_env(other))
    assert membership(same) == membership(grown) and same.fingerprint == grown.fingerprint

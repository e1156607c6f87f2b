"""The split assignment (vergeml.data.split.place_splits): exact counts per class,
the same split for the same seed and images, and no val/test image ever moving to
train as a project grows (given the remembered assignment)."""
import random
from collections import Counter

import pytest

from vergeml.data.split import SplitItem, SplitSpec, assign_splits, place_splits

P10, P20, ZERO = SplitSpec("percent", 0.1), SplitSpec("percent", 0.2), SplitSpec("percent", 0.0)


def count(n):
    return SplitSpec("count", n)


def items(sizes, prefix="img", start=0):
    """``{label: n}`` -> SplitItems with distinct digests (label None: unlabeled)."""
    out = []
    for label, n in sizes.items():
        for i in range(start, start + n):
            rel = f"{label}/{prefix}{i}.png"
            out.append(SplitItem(rel, f"digest-of-{rel}", label))
    return out


def per_class(its, splits):
    """``{label: (train, val, test)}``."""
    counts = {}
    for item, split in zip(its, splits):
        counts.setdefault(item.label, Counter())[split] += 1
    return {label: (c["train"], c["val"], c["test"]) for label, c in counts.items()}


def totals(splits):
    c = Counter(splits)
    return c["train"], c["val"], c["test"]


# -- (a) counts -------------------------------------------------------------------

ORIGINAL = [  # the original VergeML's numbers for a single folder of images
    (10, P10, P10, (8, 1, 1)),
    (20, P10, P10, (16, 2, 2)),
    (10, P20, P10, (7, 2, 1)),
    (10, P10, count(4), (5, 1, 4)),
]


@pytest.mark.parametrize("label", ["only", None], ids=["one-class", "unlabeled"])
@pytest.mark.parametrize("n,val,test,expected", ORIGINAL)
def test_the_originals_numbers_for_one_folder(n, val, test, expected, label):
    its = items({label: n})
    assert totals(assign_splits(its, val, test, seed=42)) == expected


def test_two_classes_of_five_are_split_per_class():
    """Stratified: 10 % of 5 rounds to 1 in each class, so 5+5 gives 6/2/2, not the
    original's 8/1/1 (which it computed over the whole folder)."""
    its = items({"cat": 5, "dog": 5})
    splits = assign_splits(its, P10, P10, seed=42)
    assert per_class(its, splits) == {"cat": (3, 1, 1), "dog": (3, 1, 1)}


def test_percentages_are_exact_per_class():
    sizes = {"a": 150, "b": 37, "c": 12, "d": 15, "e": 3, "f": 2, "g": 1}
    its = items(sizes)
    splits = assign_splits(its, P10, P20, seed=3)
    assert per_class(its, splits) == {
        "a": (105, 15, 30),   # 15, 30 exactly
        "b": (26, 4, 7),      # 3.7 -> 4, 7.4 -> 7
        "c": (9, 1, 2),       # 1.2 -> 1, 2.4 -> 2
        "d": (10, 2, 3),      # 1.5 -> 2 (halves up), 3.0 -> 3
        "e": (1, 1, 1),       # at least one of each from 3 images
        "f": (2, 0, 0),       # 0.2 and 0.4 round to 0: too few for a split
        "g": (1, 0, 0),
    }


def test_a_count_is_a_total_shared_by_largest_remainder():
    its = items({"a": 10, "b": 20, "c": 40})
    splits = assign_splits(its, count(7), count(5), seed=1)
    assert totals(splits) == (58, 7, 5)
    assert per_class(its, splits) == {"a": (8, 1, 1), "b": (17, 2, 1), "c": (33, 4, 3)}
    # 5 over three equal classes: 1.67 each -> 2, 2, 1 (ties go to the first by name)
    its = items({"x": 10, "y": 10, "z": 10})
    assert per_class(its, assign_splits(its, ZERO, count(5), seed=1)) == {
        "x": (8, 0, 2), "y": (8, 0, 2), "z": (9, 0, 1)}


def test_zero_means_none():
    its = items({"a": 30, "b": 30})
    assert totals(assign_splits(its, ZERO, count(0), seed=1)) == (60, 0, 0)


# -- (b) the same seed and images give the same split ------------------------------

def test_same_seed_same_images_same_membership():
    its = items({"a": 40, "b": 25})
    first = dict(zip((i.relpath for i in its), assign_splits(its, P10, P20, seed=7)))
    shuffled = list(its)
    random.Random(0).shuffle(shuffled)
    again = dict(zip((i.relpath for i in shuffled), assign_splits(shuffled, P10, P20, seed=7)))
    assert again == first
    other = dict(zip((i.relpath for i in its), assign_splits(its, P10, P20, seed=8)))
    assert other != first and Counter(other.values()) == Counter(first.values())


def test_membership_follows_content_not_names():
    its = items({"a": 30})
    renamed = [SplitItem(i.relpath.replace("img", "renamed"), i.digest, i.label) for i in its]
    assert assign_splits(its, P10, P10, seed=1) == assign_splits(renamed, P10, P10, seed=1)


# -- (c) a growing project ----------------------------------------------------------

def fresh_targets(its, val, test, seed):
    return per_class(its, assign_splits(its, val, test, seed))


@pytest.mark.parametrize("val,test", [(P10, P10), (P20, SplitSpec("percent", 0.15)),
                                      (count(6), count(4))])
def test_growing_project_never_moves_val_or_test_into_train(val, test):
    rng = random.Random(5)
    current, records, where = [], None, {}
    for round_ in range(12):
        added = items({label: rng.randint(1, 9) for label in ("cat", "dog", "owl")},
                      prefix=f"r{round_}-")
        current += added
        splits, records = place_splits(current, val, test, seed=42, remembered=records)
        now = dict(zip((i.relpath for i in current), splits))
        for rel, before in where.items():
            assert not (before in ("val", "test") and now[rel] == "train"), (round_, rel)
        where = now
        if val.kind == "count":
            assert totals(splits)[1:] == (val.value, test.value)
        else:
            got, want = per_class(current, splits), fresh_targets(current, val, test, 42)
            for label in want:
                assert all(abs(g - w) <= 1 for g, w in zip(got[label], want[label])), (round_, label)


def test_one_image_at_a_time():
    current, records, where = [], None, {}
    for i in range(60):
        current.append(SplitItem(f"c/{i}.png", f"d{i}", "c"))
        splits, records = place_splits(current, P10, P10, seed=1, remembered=records)
        now = dict(zip((it.relpath for it in current), splits))
        assert all(not (where[r] != "train" and now[r] == "train") for r in where)
        want = fresh_targets(current, P10, P10, 1)["c"]
        assert all(abs(a - b) <= 1 for a, b in zip(per_class(current, splits)["c"], want)), i
        where = now


def test_a_fresh_assignment_is_exact_and_remembered_one_keeps_it():
    its = items({"a": 50, "b": 20})
    splits, records = place_splits(its, P10, P10, seed=2)
    assert records == {i.relpath: (i.digest[:32], s) for i, s in zip(its, splits)}
    again, same = place_splits(its, P10, P10, seed=2, remembered=records)
    assert again == splits and same == records


def test_growth_continues_the_remembered_assignment_not_a_fresh_one():
    base = items({"a": 30, "b": 30})
    before, records = place_splits(base, P10, P10, seed=2)
    grown = base + items({"a": 9, "b": 3}, prefix="new")
    continued, _ = place_splits(grown, P10, P10, seed=2, remembered=records)
    assert continued[:len(base)] == before          # the old images did not move at all
    assert continued != assign_splits(grown, P10, P10, seed=2)
    assert per_class(grown, continued) == per_class(grown, assign_splits(grown, P10, P10, seed=2))


def test_removed_images():
    its = items({"a": 40})
    splits, records = place_splits(its, P10, P10, seed=4)
    val = [i for i, s in zip(its, splits) if s == "val"]
    test = [i for i, s in zip(its, splits) if s == "test"]
    kept = [i for i in its if i not in val[:3] and i != test[0]]      # 3 of 4 val, 1 test removed
    after, records2 = place_splits(kept, P10, P10, seed=4, remembered=records)
    old = dict(zip((i.relpath for i in its), splits))
    now = dict(zip((i.relpath for i in kept), after))
    assert all(now[r] == old[r] for r in now if old[r] != "train")   # val/test stay
    assert totals(after) == (28, 4, 4)          # 10 % of 36 rounds to 4: topped up from train
    assert set(records2) == set(old)            # removed images stay remembered...
    back, _ = place_splits(its, P10, P10, seed=4, remembered=records2)
    restored = dict(zip((i.relpath for i in its), back))
    assert all(restored[i.relpath] == "val" for i in val[:3])   # ...and get their split back
    assert restored[test[0].relpath] == "test"


def test_renamed_and_edited_images_keep_their_split():
    its = items({"a": 30})
    splits, records = place_splits(its, P10, P10, seed=9)
    target = next(i for i, s in zip(its, splits) if s == "val")
    renamed = [SplitItem("a/elsewhere.png", i.digest, "a") if i is target else i for i in its]
    after, _ = place_splits(renamed, P10, P10, seed=9, remembered=records)
    assert dict(zip((i.relpath for i in renamed), after))["a/elsewhere.png"] == "val"
    edited = [SplitItem(i.relpath, "new-content", "a") if i is target else i for i in its]
    after, _ = place_splits(edited, P10, P10, seed=9, remembered=records)
    assert dict(zip((i.relpath for i in edited), after))[target.relpath] == "val"

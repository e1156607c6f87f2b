"""Duplicates, conflicts and leaks: ``ml doctor``'s finders on injected near-duplicates.

Issue 26's figures: on each of the four sets of ``doctor_sets.py``
(hymenoptera, lfw, photos, digits), :data:`INJECT` near-duplicates of distinct
training images are written (seeded), in a mix of the issue's three changes:
re-encoded as JPEG of quality 60, resized by 0.8, cropped by 5% (at least one
pixel off each axis, split at random between the sides), and all three
together. :data:`CONFLICTS` of them are filed under another label and
:data:`LEAKS` placed in the test split; the rest stay beside their source
(same label, training split). The copies live in ``<set>/.duplicates/`` (the
set's listing skips hidden folders; their features join the set's cache).

Then ``duplicates.find_duplicates`` runs on the set with the copies, and:

- duplicate recall: the share of copies whose ``duplicate`` finding also
  holds their source;
- duplicate precision: among the pairs of files that the ``duplicate``
  findings put together and that involve a copy, the share that are a copy
  and its own source (or two copies of the same source). Pairs of two
  original images are not counted in it, but are reported beside it
  ("other pairs"): the ``photos`` set is made of random crops of 9 source
  photographs, so it holds natural near-duplicates nobody injected, and the
  real sets may hold some too (hymenoptera does: the same photo twice). A
  copy and another crop of its source photograph count as the same picture
  by that rule too, judged on the copy's own window (its source's, less its
  crop);
- conflict and leak recall: the share of the copies filed under another label
  (placed in test) that a ``conflict`` (``leak``) finding names together with
  their source; their precision: the share of those findings that name an
  injected conflict (leak).

The baseline, in the same run: the same copies found by a plain threshold on
the cosine similarity of the raw features (0.95, no centring, no pixel check);
its recall and precision are counted the same way.

Run: ``.venv/bin/python bench/bench_doctor_duplicates.py [--quick]``
(``--quick``: the smaller photos and digits sets). Rows: near-duplicate recall
and precision (target >= 0.95 each), conflict and leak recall (target 1.0),
per set.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doctor_sets
import rows

INJECT, CONFLICTS, LEAKS = 20, 5, 5
SEEDS = (26, 27, 28)   # three draws of copies; --quick: the first
SEED = SEEDS[0]
CHANGES = ("jpeg", "resize", "crop", "all")
HIDDEN = ".duplicates"
NAIVE_THRESHOLD = 0.95


def change(image, kind, rng):
    """One near-duplicate of ``image`` (RGB PIL image): ``(image, JPEG quality, box)``, ``box``
    the part of ``image`` it shows, as fractions ``(left, top, right, bottom)``."""
    from PIL import Image
    box = (0.0, 0.0, 1.0, 1.0)
    if kind in ("resize", "all"):
        image = image.resize((max(1, round(image.width * 0.8)), max(1, round(image.height * 0.8))),
                             Image.Resampling.BICUBIC)
    if kind in ("crop", "all"):
        cut_w, cut_h = max(1, round(image.width * 0.05)), max(1, round(image.height * 0.05))
        left, top = int(rng.integers(0, cut_w + 1)), int(rng.integers(0, cut_h + 1))
        right, bottom = image.width - (cut_w - left), image.height - (cut_h - top)
        box = (left / image.width, top / image.height, right / image.width, bottom / image.height)
        image = image.crop((left, top, right, bottom))
    return image, (60 if kind in ("jpeg", "all") else 95), box


def inject(data, folder, seed=SEED):
    """Write the near-duplicates of one set; their items, splits and ground truth.

    Args:
        data: the set's :class:`AuditData`.
        folder: the set's folder.
        seed: the draw of sources, changes, wrong labels and crops.

    Returns:
        ``(items, splits, copies)``: ``[(path, label)]`` and splits of the copies;
        ``copies`` one dict per copy: ``file`` (relative), ``source`` (relative),
        ``conflict`` and ``leak`` (bool), ``change``.
    """
    import numpy as np

    from vergeml.data.images import load_image
    rng = np.random.default_rng(seed)
    train = [i for i, split in enumerate(data.splits) if split == "train"]
    sources = rng.choice(train, size=INJECT, replace=False)
    items, splits, copies = [], [], []
    for number, source in enumerate(sources):
        kind = CHANGES[number % len(CHANGES)]
        label = data.label_of(source)
        conflict, leak = number < CONFLICTS, CONFLICTS <= number < CONFLICTS + LEAKS
        if conflict:
            label = str(rng.choice([n for n in data.label_names if n != label]))
        image, quality, box = change(load_image(data.paths[source]), kind, rng)
        path = Path(folder) / HIDDEN / label / f"copy-{number:02d}-{kind}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=quality)
        items.append((path, label))
        splits.append("test" if leak else "train")
        copies.append({"file": path.relative_to(folder).as_posix(), "source": data.files[source],
                       "conflict": conflict, "leak": leak, "change": kind, "box": box})
    return items, splits, copies


def with_copies(name, quick, seed=SEED):
    """The set ``name`` plus its injected copies (drawn with ``seed``) as one :class:`AuditData`; and the copies."""
    import shutil
    folder = doctor_sets.default_folder(name, quick)
    data = doctor_sets.audit_data(name, folder, quick)
    shutil.rmtree(folder / HIDDEN, ignore_errors=True)
    items, splits, copies = inject(data, folder, seed)
    originals = [(Path(p), data.label_of(i)) for i, p in enumerate(data.paths)]
    both = doctor_sets.to_audit_data(originals + items, folder, list(data.splits) + splits)
    return both, copies


def photo_windows(count, seed=0):
    """For ``photos.make_photos(count, seed)``: per photo, ``(source, mirrored, window)``,
    the window ``(left, top, right, bottom)`` in the source photograph's pixels.

    Replays the same draws ``make_photos`` makes, so the natural near-duplicates
    of the photo set (crops of one source that cover nearly the same part) are known.
    """
    import numpy as np
    from photos import SIZE, _pixels, _sources
    rng = np.random.default_rng(seed)
    sources = [(name, _pixels(path)) for name, path in _sources()]
    found = []
    for i in range(count):
        name, array = sources[i % len(sources)]
        scale_draw, offsets, mirror = rng.uniform(1.0, 1.6), rng.integers(0, 2 ** 31, 2), rng.random()
        height, width = array.shape[:2]
        scale = scale_draw * max(SIZE[0] / width, SIZE[1] / height)
        wide, high = max(SIZE[0], round(width * scale)), max(SIZE[1], round(height * scale))
        left, top = int(offsets[0] % (wide - SIZE[0] + 1)), int(offsets[1] % (high - SIZE[1] + 1))
        sx, sy = wide / width, high / height
        found.append((name, mirror < 0.5, (left / sx, top / sy, (left + SIZE[0]) / sx, (top + SIZE[1]) / sy)))
    return found


def overlap(a, b):
    """Intersection over union of two windows."""
    wide = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    high = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = wide * high
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area else 0.0


NATURAL_IOU = 0.8


def natural_pairs(name, data, copies=()):
    """Pairs of files that are the same picture by construction (photos: crops of one
    source, same mirroring, windows overlapping by at least NATURAL_IOU); else none.

    A copy's window is the part of its source's window it shows (its crop), so a copy
    and another crop of the same source photograph are judged by the same rule as two
    originals: cropping 5% off one side can bring a copy closer to a neighbouring crop
    than its source is.
    """
    if name != "photos":
        return set()
    originals = [f for f in data.files if not f.startswith(HIDDEN)]
    windows = photo_windows(len(originals))
    by_file = {f: windows[int(Path(f).stem)] for f in originals}
    by_file.update((c["file"], _copy_window(by_file[c["source"]], c["box"])) for c in copies)
    pairs = set()
    for a in by_file:
        for b in originals:
            wa, wb = by_file[a], by_file[b]
            if a < b and wa[0] == wb[0] and wa[1] == wb[1] and overlap(wa[2], wb[2]) >= NATURAL_IOU:
                pairs.add((a, b))
    return pairs


def _copy_window(source, box):
    """``(source name, mirrored, window)`` of a copy showing ``box`` (fractions of its
    source photo, which shows ``window`` of the photograph, mirrored or not)."""
    name, mirrored, (left, top, right, bottom) = source
    x0, y0, x1, y1 = box
    if mirrored:  # the photo's left is the window's right
        x0, x1 = 1 - x1, 1 - x0
    wide, high = right - left, bottom - top
    return name, mirrored, (left + x0 * wide, top + y0 * high, left + x1 * wide, top + y1 * high)


def evaluate(findings, copies, natural):
    """Recall and precision of ``duplicate``, ``conflict`` and ``leak`` findings against the copies.

    Args:
        findings: what a finder reported.
        copies: :func:`inject`'s ground truth.
        natural: pairs of original files that are duplicates by construction.

    Returns:
        A dict of figures (see the module doc).
    """
    from itertools import combinations
    source_of = {c["file"]: c["source"] for c in copies}

    def same_picture(a, b):
        if tuple(sorted((a, b))) in natural:
            return True
        a, b = sorted((source_of.get(a, a), source_of.get(b, b)))
        return a == b or (a, b) in natural

    groups = {kind: [set(f.files) for f in findings if f.kind == kind] for kind in ("duplicate", "conflict", "leak")}
    pairs = [tuple(sorted(p)) for g in groups["duplicate"] for p in combinations(sorted(g), 2)]
    with_copy = [p for p in pairs if p[0] in source_of or p[1] in source_of]
    others = [p for p in pairs if p[0] not in source_of and p[1] not in source_of]
    def found(copy, kind):
        return any(copy["file"] in g and any(m != copy["file"] and same_picture(copy["file"], m) for m in g)
                   for g in groups[kind])

    figures = {"recall": _share([found(c, "duplicate") for c in copies]),
               "precision": _share([same_picture(*p) for p in with_copy]),
               "pairs": len(with_copy), "other_pairs": len(others),
               "other_right": sum(same_picture(*p) for p in others),
               "missed": ", ".join(c["change"] for c in copies if not found(c, "duplicate")) or "none"}
    for kind in ("conflict", "leak"):
        wanted = [c for c in copies if c[kind]]
        figures[f"{kind}_recall"] = _share([found(c, kind) for c in wanted])
        figures[f"{kind}_precision"] = _share([any({c["file"], c["source"]} <= g for c in wanted)
                                              or _known(g, same_picture) for g in groups[kind]])
        figures[f"{kind}_found"] = len(groups[kind])
    return figures


def _verdict(value, target):
    """The absolute target in a row's figure (rows.emit's targets are ratios to the baseline)."""
    return f"(target >= {target:g}: {'met' if value >= target else 'NOT met'})"


def _known(group, same_picture):
    """Whether every file of ``group`` is known to be the same picture as another of it."""
    return all(any(a != b and same_picture(a, b) for b in group) for a in group)


def _share(flags):
    return sum(flags) / len(flags) if flags else 1.0


def naive_findings(data):
    """The baseline: duplicate groups of a plain cosine threshold on the raw features."""
    import numpy as np

    from vergeml.doctor import duplicates
    from vergeml.doctor.neighbours import nearest
    found = nearest(data.features, duplicates.K)
    pairs = [(i, int(j), float(s), (float(s), None, None)) for i in range(len(data))
             for j, s in zip(found.indices[i], found.sims[i]) if s >= NAIVE_THRESHOLD]
    pairs += duplicates.exact_pairs(data.digests)
    findings = []
    for members, score, why in duplicates._groups(len(data), pairs):
        findings.extend(duplicates._group_findings(data, members, score, why))
    del np
    return findings


def main():
    quick = "--quick" in sys.argv[1:]
    seeds = SEEDS[:1] if quick else SEEDS
    started = time.monotonic()
    for name in doctor_sets.SETS:
        runs = [run_set(name, quick, seed) for seed in seeds]
        ours, naive = _mean([r[0] for r in runs]), _mean([r[1] for r in runs])
        data_size = runs[0][2]
        size = f"{name} ({data_size} images + {INJECT} copies, {len(seeds)} draw(s))"
        common = f"raw-feature cosine >= {NAIVE_THRESHOLD}; {ours['seconds']:.1f} s"
        per_seed = "/".join(f"{r[0]['recall']:.2f}" for r in runs)
        rows.emit(f"near-duplicate recall, {size} {_verdict(ours['recall'], 0.95)}", ours["recall"],
                  naive["recall"], "recall", note=f"{common}; per draw {per_seed}; missed: "
                                                  f"{'; '.join(r[0]['missed'] for r in runs)}")
        per_seed = "/".join(f"{r[0]['precision']:.2f}" for r in runs)
        rows.emit(f"near-duplicate precision (pairs with a copy), {size} {_verdict(ours['precision'], 0.95)}",
                  ours["precision"], naive["precision"], "precision",
                  note=f"{common}; per draw {per_seed}; {ours['pairs']:.0f} pairs with a copy; "
                       f"{ours['other_pairs']:.0f} pairs of originals ({ours['other_right']:.0f} known to be "
                       f"the same picture) per draw")
        for kind in ("conflict", "leak"):
            rows.emit(f"{kind} recall, {size} {_verdict(ours[f'{kind}_recall'], 1.0)}", ours[f"{kind}_recall"],
                      naive[f"{kind}_recall"], "recall",
                      note=f"{common}; {ours[f'{kind}_found']:.1f} findings per draw, precision "
                           f"{ours[f'{kind}_precision']:.2f}")
    print(f"{time.monotonic() - started:.0f} s")


def run_set(name, quick, seed):
    """One draw of copies on one set: ``(our figures, the baseline's, original image count)``."""
    from vergeml.doctor.duplicates import find_duplicates
    data, copies = with_copies(name, quick, seed)
    natural = natural_pairs(name, data, copies)
    clock = time.perf_counter()
    ours = evaluate(find_duplicates(data), copies, natural)
    ours["seconds"] = time.perf_counter() - clock
    naive = evaluate(naive_findings(data), copies, natural)
    for label, figures in (("find_duplicates", ours), (f"cosine >= {NAIVE_THRESHOLD}", naive)):
        print(f"  {name} draw {seed} {label}: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()), flush=True)
    return ours, naive, len(data) - len(copies)


def _mean(figures):
    """The mean of each number over draws (text fields are left out)."""
    return {key: sum(f[key] for f in figures) / len(figures) for key, value in figures[0].items()
            if isinstance(value, (int, float))}

if __name__ == "__main__":
    main()

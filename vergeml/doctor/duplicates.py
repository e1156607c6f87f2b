"""``duplicate``, ``conflict`` and ``leak`` findings: the same picture more than once.

Exact duplicates share a content digest. Near duplicates (re-encoded,
resized, slightly cropped copies) are judged on each pair of candidates, each
image and its :data:`K` nearest neighbours in two spaces:

- the backbone features (:mod:`vergeml.doctor.neighbours`), centred on the
  set's mean (ReLU features are all alike; centring spreads their cosines);
- 32 x 32 colour thumbnails (:func:`vergeml.doctor.quality.image_stats`,
  decoded once for the quality checks too), compared as the RMS difference
  in grey levels at the best of the offsets up to :data:`SHIFT` pixels.

A fixed similarity threshold cannot serve both a folder of varied photos and
one of near-identical handwritten digits, so each distance is taken relative
to the pair's neighbourhood: divided by the smaller of the two images' median
distance to their own neighbours (the *ratio*; a copy is far closer to its
original than images usually are to their nearest ones).

A candidate whose pixel ratio is at most :data:`VERIFY_RATIO` (closer than
the images' usual neighbours), of two pictures whose shorter side is at least
:data:`ALIGN_SIDE` pixels, is verified geometrically
(:mod:`vergeml.doctor.alignment`): the second picture is aligned onto the
first (a scale and a shift per axis), and the pair is a duplicate when

- the aligned grey thumbnails correlate at least :data:`NCC_MIN` over their
  overlap, less what :data:`NOISE` grey levels of noise would cost at the
  pair's contrast (a flat picture correlates poorly with its own JPEG copy), and
- the two frames, aligned, overlap by at least :data:`OVERLAP_MIN`
  (intersection over union): a copy cropped by 5% keeps 90% of the frame,
  two different crops of one scene, or two shots of it from nearby, less.

The alignment decides alone: it finds the resized and cropped copies whose
thumbnails differ at every offset, and rejects the look-alikes (smooth
patches, neighbouring crops) whose thumbnails are close. Other pairs (tiny
pictures, where a 5% crop is less than a pixel) are a duplicate when

- its pixel ratio is at most :data:`PIXEL_ALONE` (:data:`PIXEL_ALONE_SMALL`
  when the smaller picture's shorter side is under :data:`SMALL` pixels: the
  backbone sees such a picture enlarged many times, and its features move
  more under a re-encoding than its pixels do), or
- its pixel ratio is at most :data:`PIXEL_RATIO` and its feature ratio at
  most :data:`FEATURE_RATIO` (both agree).

Without readable files the features decide alone: a cosine of at least
:data:`FEATURE_ALONE` and a feature ratio of at most :data:`FEATURE_RATIO`.
The constants were chosen on the four sets of
``bench/bench_doctor_duplicates.py`` (three draws of injected copies each),
which also reports what they miss.

Duplicate pairs are joined into groups (connected components); each group is
one ``duplicate`` finding, plus a ``conflict`` finding when it holds more than
one label and a ``leak`` finding when it spans splits.
"""
import numpy as np

from vergeml.doctor.findings import Finding
from vergeml.doctor.neighbours import nearest, unit_rows

K = 10                   # neighbours per image, in features and in thumbnails
PIXEL_ALONE = 0.2        # a pixel ratio this low is a duplicate whatever the features say
PIXEL_ALONE_SMALL = 0.4  # ... for pictures whose shorter side is under SMALL pixels
SMALL = 64
PIXEL_RATIO = 0.55       # this low, a duplicate when the feature ratio is at most FEATURE_RATIO
FEATURE_RATIO = 0.7
FEATURE_ALONE = 0.95     # without pixels: a cosine this high, and a feature ratio of at most FEATURE_RATIO
USUAL = 0.5              # the quantile of an image's K neighbour distances taken as its usual distance
ALIGN_RATIO = 1.0        # pairs with an unaligned pixel ratio above this are not aligned (too far anyway)
SHIFT = 2                # offsets tried, in thumbnail pixels (6% of 32: a 5% crop moves the picture ~1)
VERIFY_RATIO = 0.9       # pairs with a pixel ratio up to this are aligned, and judged on the alignment ...
ALIGN_SIDE = 16          # ... when both pictures' shorter side is at least this (a 5% crop of 8 px is under one)
NCC_MIN = 0.95           # an aligned pair is a duplicate with a correlation this high (less for flat pictures:
NOISE = 4.0              # the bar drops by what this many grey levels of JPEG noise cost at the pair's contrast) ...
OVERLAP_MIN = 0.85       # ... and frames overlapping this much once aligned (a 5% crop: 0.90)
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def find_duplicates(data, threshold=None, pixels=True):
    """The ``duplicate``, ``conflict`` and ``leak`` findings of a set.

    Args:
        data: :class:`vergeml.doctor.audit_data.AuditData`.
        threshold: a cosine similarity (of the centred features) above which a
            pair counts as a duplicate whatever else is said (None: only the
            rules of the module doc).
        pixels: whether to read the files to confirm near duplicates.

    Returns:
        A list of :class:`Finding`, most certain first within each kind.
    """
    pairs = exact_pairs(data.digests) + near_pairs(data, threshold, pixels)
    findings = []
    for members, score, why in _groups(len(data), pairs):
        findings.extend(_group_findings(data, members, score, why))
    return sorted(findings, key=lambda f: (f.kind, -f.score, f.files))


def exact_pairs(digests):
    """``[(i, j, score, None)]`` joining every file to the first with its digest."""
    first, pairs = {}, []
    for index, digest in enumerate(digests):
        if digest in first:
            pairs.append((first[digest], index, 1.0, None))
        else:
            first[digest] = index
    return pairs


def near_pairs(data, threshold=None, pixels=True):
    """``[(i, j, score, detail)]`` of the near duplicates (see the module doc); ``detail`` is
    ``(cosine, pixel distance or None, (correlation, overlap, aligned distance) or None)``."""
    table = pair_table(data, pixels)
    if table["pixel"] is not None:
        keep, score = _pixel_verdicts(table)
    else:
        keep = (table["cosine"] >= FEATURE_ALONE) & (table["feature_ratio"] <= FEATURE_RATIO)
        score = table["cosine"]
    if threshold is not None:
        keep |= table["cosine"] >= threshold
    pairs = []
    for index in np.flatnonzero(keep):
        i, j = int(table["i"][index]), int(table["j"][index])
        if data.digests[i] != data.digests[j]:  # else an exact pair already
            pairs.append((i, j, float(np.clip(score[index], 0, 1)), _detail(table, index)))
    return pairs


def _pixel_verdicts(table):
    """``(keep, score)`` of every candidate pair when the files were read.

    Aligned pairs are judged on the alignment alone (it both finds the resized and cropped
    copies the thumbnails miss and rejects the look-alikes they let through); the others
    (tiny pictures) on the thumbnail and feature ratios.
    """
    keep = table["pixel_ratio"] <= np.where(table["side"] < SMALL, PIXEL_ALONE_SMALL, PIXEL_ALONE)
    keep |= (table["pixel_ratio"] <= PIXEL_RATIO) & (table["feature_ratio"] <= FEATURE_RATIO)
    score = 1 - 0.5 * np.minimum(1.0, table["pixel_ratio"] / PIXEL_RATIO)
    with np.errstate(invalid="ignore"):  # NaN where not aligned
        # JPEG noise alone lowers the correlation of flat pictures: the bar drops by what
        # NOISE grey levels of it would cost at the pair's contrast.
        bar = NCC_MIN - NOISE ** 2 / (2 * np.maximum(table["contrast"], 1e-3) ** 2)
        verified = (table["ncc"] >= bar) & (table["overlap"] >= OVERLAP_MIN)
        closeness = np.clip((1 - table["ncc"]) / (1 - bar), 0, None)
    aligned = table["aligned"]
    return np.where(aligned, verified, keep), np.where(aligned, 1 - 0.5 * np.minimum(1.0, closeness), score)


def _detail(table, index):
    """What :func:`_reason` says of one pair."""
    pixel = None if table["pixel"] is None else float(table["pixel"][index])
    aligned = None
    if pixel is not None and table["aligned"][index]:
        aligned = (float(table["ncc"][index]), float(table["overlap"][index]), float(table["rms"][index]))
    return float(table["cosine"][index]), pixel, aligned


def pair_table(data, pixels=True):
    """The candidate pairs and their measures, as arrays (what the benchmark tunes on).

    Args:
        data: :class:`AuditData`.
        pixels: whether to read the files (else ``pixel`` and ``pixel_ratio`` are None).

    Returns:
        A dict of arrays, one entry per candidate pair ``i < j`` (each image and its
        :data:`K` nearest neighbours in features and in thumbnails): ``i``, ``j``,
        ``cosine`` (centred features), ``feature_ratio`` (cosine distance over the
        smaller of the two images' median distance to their neighbours), ``pixel``
        (thumbnail RMS difference at the best offset, grey levels; inf when not
        measured) and ``pixel_ratio`` (that over the smaller of the two images' median
        distance to their thumbnail neighbours).
    """
    features = np.asarray(data.features, dtype=np.float32)
    features = features - features.mean(axis=0) if len(features) else features
    thumbs = _thumbnails(data.paths) if pixels else None
    found = nearest(features, K)
    table = {"i": np.empty(0, np.int64), "j": np.empty(0, np.int64), "cosine": np.empty(0),
             "feature_ratio": np.empty(0), "pixel": None, "pixel_ratio": None}
    n, k = found.indices.shape
    if not k:
        return table
    lists = [found.indices]
    if thumbs is not None:
        readable, thumbs, sides = thumbs
        small = _small(thumbs)
        by_pixels = nearest(small - small[readable].mean(axis=0), K).indices
        lists.append(by_pixels)
    rows = np.repeat(np.arange(n), k)
    pair = np.unique(np.sort(np.concatenate([np.stack([rows, near.ravel()], axis=1) for near in lists]), axis=1),
                     axis=0)
    i, j = pair[:, 0], pair[:, 1]
    cosine = _cosines(unit_rows(features), i, j)
    usual = np.quantile(1 - found.sims, USUAL, axis=1)
    table.update(i=i, j=j, cosine=cosine, feature_ratio=(1 - cosine) / _smaller(usual, i, j))
    if thumbs is not None:
        usual = np.quantile(_rms(thumbs, rows, by_pixels.ravel(), shift=0).reshape(n, k), USUAL, axis=1)
        # Offsets cost 25 comparisons: only pairs close enough unaligned are aligned.
        distance = _rms(thumbs, i, j, shift=0)
        close = np.flatnonzero(distance / _smaller(usual, i, j) <= ALIGN_RATIO)
        distance[close] = _rms(thumbs, i[close], j[close], shift=SHIFT)
        distance[~(readable[i] & readable[j])] = np.inf
        table.update(pixel=distance, pixel_ratio=distance / _smaller(usual, i, j), side=_smaller(sides, i, j))
        table.update(_verify(data.paths, table))
    return table


def _verify(paths, table):
    """The alignment of the pairs worth it (:mod:`vergeml.doctor.alignment`).

    Args:
        paths: the files.
        table: the pair table with its pixel measures.

    Returns:
        A dict of arrays over all pairs: ``aligned`` (bool: the pair was aligned: its pixel ratio
        is at most :data:`VERIFY_RATIO` and both pictures' shorter side at least
        :data:`ALIGN_SIDE`), ``ncc``, ``rms`` and ``overlap`` (NaN where not aligned).
    """
    from vergeml.doctor import alignment
    aligned = (table["pixel_ratio"] <= VERIFY_RATIO) & (table["side"] >= ALIGN_SIDE)
    out = {name: np.full(len(aligned), np.nan) for name in ("ncc", "rms", "contrast", "overlap")}
    chosen = np.flatnonzero(aligned)
    if len(chosen):
        # Each picture decoded once, however many pairs it is in.
        files, where = np.unique(np.concatenate([table["i"][chosen], table["j"][chosen]]), return_inverse=True)
        thumbs = alignment.grey_thumbnails([paths[f] for f in files])
        found = alignment.align(thumbs[where[:len(chosen)]], thumbs[where[len(chosen):]])
        for name in out:
            out[name][chosen] = found[name]
    return dict(out, aligned=aligned)


def _cosines(unit, i, j, chunk=65536):
    """The dot products of rows ``i`` and ``j`` of ``unit``, a chunk of pairs at a time."""
    out = np.empty(len(i), np.float32)
    for start in range(0, len(i), chunk):
        out[start:start + chunk] = np.einsum("nd,nd->n", unit[i[start:start + chunk]], unit[j[start:start + chunk]])
    return out


def _smaller(usual, i, j):
    return np.maximum(np.minimum(usual[i], usual[j]), 1e-6)


def _small(thumbs):
    """The thumbnails at half size, flattened: what the thumbnail neighbours are searched on."""
    n, side = len(thumbs), thumbs.shape[1]
    return thumbs.reshape(n, side // 2, 2, side // 2, 2, -1).astype(np.float32).mean(axis=(2, 4)).reshape(n, -1)


def _thumbnails(paths):
    """``(readable mask, uint8 (n, 32, 32, 3), shorter sides)``, or None when no path is set."""
    from vergeml.doctor.quality import THUMB, image_stats
    if not paths or not all(paths):
        return None
    stats = image_stats(tuple(paths))
    blank = np.zeros((THUMB, THUMB, 3), np.uint8)
    readable = np.array([not s.error for s in stats])
    sides = np.array([min(s.width, s.height) for s in stats], np.float64)
    return readable, np.stack([blank if s.error else s.thumb for s in stats]), sides


def _rms(thumbs, i, j, shift, chunk=2048):
    """RMS difference of thumbnails ``i`` and ``j`` (grey levels), at the best offset up to ``shift``."""
    side = thumbs.shape[1]
    best = np.full(len(i), np.inf, np.float32)
    for start in range(0, len(i), chunk):
        a = thumbs[i[start:start + chunk]].astype(np.float32)
        b = thumbs[j[start:start + chunk]].astype(np.float32)
        for dy in range(-shift, shift + 1):
            for dx in range(-shift, shift + 1):
                diff = (a[:, max(0, dy):side + min(0, dy), max(0, dx):side + min(0, dx)]
                        - b[:, max(0, -dy):side + min(0, -dy), max(0, -dx):side + min(0, -dx)])
                rms = np.sqrt(np.einsum("nyxc,nyxc->n", diff, diff) / diff[0].size)
                np.minimum(best[start:start + chunk], rms, out=best[start:start + chunk])
    return best


def _groups(n, pairs):
    """``[(members, score, why)]``: connected components of the duplicate pairs.

    Args:
        n: the number of samples.
        pairs: ``[(i, j, score, detail)]`` from :func:`exact_pairs` and :func:`near_pairs`.

    Returns:
        One entry per group; ``score`` and ``why`` are the weakest pair's.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    if not pairs:
        return []
    i = np.array([p[0] for p in pairs])
    j = np.array([p[1] for p in pairs])
    _, component = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    weakest = {}
    for a, _, score, detail in pairs:
        key = component[a]
        if key not in weakest or score < weakest[key][0]:
            weakest[key] = (score, _reason(detail))
    groups = []
    for key, (score, why) in weakest.items():
        members = np.flatnonzero(component == key).tolist()
        groups.append((members, score, why))
    return groups


def _reason(detail):
    """One pair's reason. The finding lists every file of the group, so the reason names
    none (naming one put "same content as x.jpg" on the row of x.jpg itself)."""
    if detail is None:
        return "same content digest"
    cosine, pixel, aligned = detail
    if aligned is not None:
        ncc, overlap, rms = aligned
        return (f"cosine {cosine:.3f}, aligned thumbnails {rms:.0f}/255 apart (correlation {ncc:.3f}, "
                f"frames overlap {overlap:.0%})")
    return f"cosine {cosine:.3f}" + ("" if pixel is None else f", thumbnails {pixel:.0f}/255 apart")


def _group_findings(data, members, score, why):
    """The ``duplicate`` finding of one group, and its ``conflict`` and ``leak`` ones if they apply."""
    members = sorted(members, key=lambda m: (SPLIT_ORDER.get(data.splits[m], 3), data.files[m]))
    files = tuple(data.files[m] for m in members)
    labels = tuple(data.label_of(m) for m in members)
    splits = tuple(data.splits[m] for m in members)
    size = f"{len(files)} copies: " if len(files) > 2 else ""
    found = [Finding("duplicate", files, score, size + why, labels, splits)]
    if len(set(labels)) > 1:
        found.append(Finding("conflict", files, score,
                             f"duplicates filed under {_named(labels)} ({why})", labels, splits))
    if len(set(splits)) > 1:
        found.append(Finding("leak", files, score,
                             f"duplicates in {_named(splits)}: {'the test split' if 'test' in splits else 'validation'}"
                             f" holds copies of {'training' if 'train' in splits else 'validation'} images ({why})",
                             labels, splits))
    return found


def _named(values):
    distinct = sorted(set(values), key=lambda v: (SPLIT_ORDER.get(v, 3), v))
    return " and ".join([", ".join(distinct[:-1]), distinct[-1]]) if len(distinct) > 1 else distinct[0]

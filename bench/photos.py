"""A folder of real JPEG photos for the benchmarks, made offline.

No photo collection can be downloaded here, so the set is cut from real colour
photographs: the 396 ants and bees of ``../shared/data/hymenoptera``
(``kind="hymenoptera"``, what bench_extract_photos uses) or the ones
scikit-image ships (``kind="skimage"``, the default: astronaut, cat, coffee,
rocket, motorcycles, retina, Hubble field, IHC slide). Each file is a random crop of
one of them at a random scale, maybe mirrored, about 420x350 pixels (the size
the issue's private set has), saved as a JPEG of quality 90. Decoding and
resizing these costs what decoding and resizing camera photos of that size
costs; their content is real photographic texture, not synthetic noise.

``make_photos(folder, count, seed=0)`` is deterministic for a given count and
seed; photo ``i`` is the same whatever the count. Under ``bench/run.sh`` the
photos made once are kept in the run's shared folder (``workspace.py``) and
copied from there.
"""
import itertools
import os
import shutil

import workspace

SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
           "motorcycle_right.png", "retina.jpg", "hubble_deep_field.jpg", "ihc.png")
SIZE = (420, 350)


def _sources(kind="skimage"):
    """``[(name, path)]`` of the source photographs: scikit-image's sample photos, or the
    real ants and bees of ``../shared/data/hymenoptera`` (``kind="hymenoptera"``)."""
    if kind == "hymenoptera":
        by_class = {}
        for path in sorted(workspace.HYMENOPTERA.glob("*/*/*.jpg")):
            by_class.setdefault(path.parent.name, []).append(str(path))
        # Classes taken in turn, so the first photos already hold both (a warm-up of 64).
        turns = itertools.zip_longest(*by_class.values())
        return [(os.path.basename(os.path.dirname(p)), p) for turn in turns for p in turn if p]
    import skimage.data
    folder = os.path.dirname(skimage.data.__file__)
    return [(name.split(".")[0], os.path.join(folder, name)) for name in SOURCES]


def make_photos(folder, count, seed=0, classes=None, kind="skimage"):
    """Write ``count`` JPEGs under ``folder/<source>/`` (or ``folder/<class>/``); return their paths.

    Args:
        folder: where to write (created).
        count: how many photos.
        seed: the random seed of crops, scales and mirroring.
        classes: ``None`` to file each photo under the name of its source photo.
        kind: the source photographs: ``skimage`` (9 sample photos) or ``hymenoptera``
            (the 396 real ants and bees: every photo a crop and re-encode of another one).

    Returns:
        The list of written paths, sorted.
    """
    import numpy as np
    shared = workspace.shared_dir()
    pool = os.path.join(shared, f"photos-{kind}-seed-{seed}") if shared else None
    rng = np.random.default_rng(seed)
    sources = _sources(kind)
    paths = []
    for i in range(count):
        name = sources[i % len(sources)][0]
        draws = rng.uniform(1.0, 1.6), rng.integers(0, 2 ** 31, 2), rng.random()
        target = os.path.join(folder, classes[i % len(classes)] if classes else name)
        os.makedirs(target, exist_ok=True)
        path = os.path.join(target, f"{i:05d}.jpg")
        kept = os.path.join(pool, f"{i:05d}.jpg") if pool else None
        if kept and os.path.isfile(kept):
            shutil.copyfile(kept, path)
        else:
            _render(_pixels(sources[i % len(sources)][1]), draws).save(path, quality=90)
            if kept:
                os.makedirs(pool, exist_ok=True)
                shutil.copyfile(path, kept + ".tmp")
                os.replace(kept + ".tmp", kept)
        paths.append(path)
    return sorted(paths)


def _pixels(path):
    """A source photograph's RGB pixels (read when a photo is cut from it)."""
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def _render(array, draws):
    """One photo: a crop of ``array`` at a random scale, maybe mirrored."""
    from PIL import Image
    scale_draw, offsets, mirror = draws
    picture = Image.fromarray(array)
    scale = scale_draw * max(SIZE[0] / picture.width, SIZE[1] / picture.height)
    picture = picture.resize((max(SIZE[0], round(picture.width * scale)),
                              max(SIZE[1], round(picture.height * scale))), Image.BICUBIC)
    left = int(offsets[0] % (picture.width - SIZE[0] + 1))
    top = int(offsets[1] % (picture.height - SIZE[1] + 1))
    picture = picture.crop((left, top, left + SIZE[0], top + SIZE[1]))
    return picture.transpose(Image.FLIP_LEFT_RIGHT) if mirror < 0.5 else picture

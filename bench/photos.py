"""A folder of real JPEG photos for the benchmarks, made offline.

No photo collection can be downloaded here, so the set is cut from the real
colour photographs that scikit-image ships (astronaut, cat, coffee, rocket,
motorcycles, retina, Hubble field, IHC slide): each file is a random crop of
one of them at a random scale, maybe mirrored, about 420x350 pixels (the size
the issue's private set has), saved as a JPEG of quality 90. Decoding and
resizing these costs what decoding and resizing camera photos of that size
costs; their content is real photographic texture, not synthetic noise.

``make_photos(folder, count, seed=0)`` is deterministic for a given count and
seed; photo ``i`` is the same whatever the count. Under ``bench/run.sh`` the
photos made once are kept in the run's shared folder (``workspace.py``) and
copied from there.
"""
import os
import shutil

import workspace

SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
           "motorcycle_right.png", "retina.jpg", "hubble_deep_field.jpg", "ihc.png")
SIZE = (420, 350)


def _sources():
    import numpy as np
    import skimage.data
    from PIL import Image
    folder = os.path.dirname(skimage.data.__file__)
    return [(name.split(".")[0], np.asarray(Image.open(os.path.join(folder, name)).convert("RGB")))
            for name in SOURCES]


def make_photos(folder, count, seed=0, classes=None):
    """Write ``count`` JPEGs under ``folder/<source>/`` (or ``folder/<class>/``); return their paths.

    Args:
        folder: where to write (created).
        count: how many photos.
        seed: the random seed of crops, scales and mirroring.
        classes: ``None`` to file each photo under the name of its source photo.

    Returns:
        The list of written paths, sorted.
    """
    import numpy as np
    shared = workspace.shared_dir()
    pool = os.path.join(shared, f"photos-seed-{seed}") if shared else None
    rng = np.random.default_rng(seed)
    sources = _sources()
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
            _render(sources[i % len(sources)][1], draws).save(path, quality=90)
            if kept:
                os.makedirs(pool, exist_ok=True)
                shutil.copyfile(path, kept + ".tmp")
                os.replace(kept + ".tmp", kept)
        paths.append(path)
    return sorted(paths)


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

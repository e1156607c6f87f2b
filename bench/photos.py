"""A folder of real JPEG photos for the benchmarks, made offline.

No photo collection can be downloaded here, so the set is cut from the real
colour photographs that scikit-image ships (astronaut, cat, coffee, rocket,
motorcycles, retina, Hubble field, IHC slide): each file is a random crop of
one of them at a random scale, maybe mirrored, about 420x350 pixels (the size
the issue's private set has), saved as a JPEG of quality 90. Decoding and
resizing these costs what decoding and resizing camera photos of that size
costs; their content is real photographic texture, not synthetic noise.

``make_photos(folder, count, seed=0)`` is deterministic for a given count and seed.
"""
import os

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
    from PIL import Image
    rng = np.random.default_rng(seed)
    sources = _sources()
    paths = []
    for i in range(count):
        name, array = sources[i % len(sources)]
        picture = Image.fromarray(array)
        scale = rng.uniform(1.0, 1.6) * max(SIZE[0] / picture.width, SIZE[1] / picture.height)
        picture = picture.resize((max(SIZE[0], round(picture.width * scale)),
                                  max(SIZE[1], round(picture.height * scale))), Image.BICUBIC)
        left = int(rng.integers(0, picture.width - SIZE[0] + 1))
        top = int(rng.integers(0, picture.height - SIZE[1] + 1))
        picture = picture.crop((left, top, left + SIZE[0], top + SIZE[1]))
        if rng.random() < 0.5:
            picture = picture.transpose(Image.FLIP_LEFT_RIGHT)
        target = os.path.join(folder, classes[i % len(classes)] if classes else name)
        os.makedirs(target, exist_ok=True)
        path = os.path.join(target, f"{i:05d}.jpg")
        picture.save(path, quality=90)
        paths.append(path)
    return sorted(paths)

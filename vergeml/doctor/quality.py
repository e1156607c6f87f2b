"""``quality`` findings: files that are unreadable, tiny, oddly shaped, blank, dark, bright or blurry.

Each image is decoded once, small: JPEG draft mode decodes at 1/2 to 1/8
scale (at least :data:`DECODE` pixels a side), which reads the whole stream
(a truncated file still fails) at a fraction of the cost, so 10,000 photos
take seconds on two threads. :func:`image_stats` keeps only a few numbers and
a 32 x 32 colour thumbnail per image; the duplicate finder compares those
thumbnails, and the last call's result is kept, so ``ml doctor`` decodes
each file once for both.

The checks and their thresholds (grey levels are 0-255):

- unreadable: the files that did not decode (``bad_files``, or failing here).
- tiny: the shorter side under :data:`TINY` pixels and under half the set's
  median shorter side (a set of 8 x 8 digits is not 1,797 findings).
- aspect: the longer side at least :data:`ASPECT` times the shorter.
- constant: the grey thumbnail's standard deviation under :data:`CONSTANT`
  (a blank, single-colour or lost image).
- dark / bright: mean grey under :data:`DARK` or over :data:`BRIGHT`.
- blurry: the variance of the 4-neighbour Laplacian of the grey thumbnail
  (at most :data:`SHARP_SIDE` pixels a side, never enlarged) under
  :data:`BLUR` and under a tenth of the set's median (textures differ; a
  set of soft pictures is not all blurry).
"""
import functools
from collections import namedtuple

from vergeml.doctor.findings import Finding

DECODE = 64        # pixels a side that draft decoding keeps at least
SHARP_SIDE = 128   # the grey thumbnail's longer side, for contrast and sharpness
THUMB = 32         # the colour thumbnail's side, for duplicates
TINY = 32
ASPECT = 4.0
CONSTANT = 4.0
DARK, BRIGHT = 16.0, 240.0
BLUR = 20.0
BLUR_SHARE = 0.1

ImageStats = namedtuple("ImageStats", "width height mean std sharpness thumb error")
ImageStats.__doc__ = """What the checks need of one image.

Attributes:
    width, height: the stored size in pixels.
    mean, std: of the grey thumbnail (0-255).
    sharpness: the variance of its Laplacian.
    thumb: ``uint8`` array ``(32, 32, 3)``, the whole image squeezed to 32 x 32.
    error: why the file did not decode ("" when it did; then the rest is None).
"""


def find_quality_issues(data, bad_files=()):
    """The ``quality`` findings of a set.

    Args:
        data: :class:`vergeml.doctor.audit_data.AuditData` (``paths`` are read).
        bad_files: ``[(relative path, reason)]`` of files that did not decode;
            ``data.bad_files`` is used too.

    Returns:
        A list of :class:`Finding`, most certain first.
    """
    findings = [Finding("quality", (path,), 1.0, f"unreadable: {reason}")
                for path, reason in _unique(list(bad_files) + list(getattr(data, "bad_files", [])))]
    stats = image_stats(tuple(data.paths))
    readable = [s for s in stats if not s.error]
    median_side = _median([min(s.width, s.height) for s in readable])
    median_sharp = _median([s.sharpness for s in readable])
    reported = {f.files[0] for f in findings}
    for index, item in enumerate(stats):
        if data.files[index] in reported:
            continue
        problems = [("unreadable: " + item.error, 1.0)] if item.error else \
            _problems(item, median_side, median_sharp)
        if problems:
            score = max(score for _, score in problems)
            why = "; ".join(text for text, _ in problems)
            findings.append(Finding("quality", (data.files[index],), score, why,
                                    labels=(data.label_of(index),), splits=(data.splits[index],)))
    return sorted(findings, key=lambda f: (-f.score, f.files))


def _problems(item, median_side, median_sharp):
    """``[(why, score)]`` of one decoded image."""
    found = []
    short, long = min(item.width, item.height), max(item.width, item.height)
    if short < TINY and short < median_side / 2:
        found.append((f"tiny: {item.width}x{item.height} px", 1 - short / (2 * TINY)))
    if long >= ASPECT * short:
        found.append((f"extreme aspect ratio {long / short:.1f}:1", min(1.0, 0.5 + (long / short - ASPECT) / 8)))
    if item.std < CONSTANT:
        found.append((f"near-constant (grey deviation {item.std:.1f})", 1 - item.std / (2 * CONSTANT)))
    elif item.sharpness < BLUR and item.sharpness < BLUR_SHARE * median_sharp:
        found.append((f"blurry (Laplacian variance {item.sharpness:.1f}, the set's median "
                      f"{median_sharp:.0f})", 1 - item.sharpness / (2 * BLUR)))
    if item.mean < DARK:
        found.append((f"very dark (mean grey {item.mean:.0f})", 1 - item.mean / (2 * DARK)))
    elif item.mean > BRIGHT:
        found.append((f"very bright (mean grey {item.mean:.0f})", 1 - (255 - item.mean) / (2 * (255 - BRIGHT))))
    return found


@functools.lru_cache(maxsize=1)
def image_stats(paths):
    """:class:`ImageStats` of each image file, decoded small on a few threads.

    Args:
        paths: a tuple of file paths (hashable: the last call's result is kept,
            so the duplicate finder reuses what the quality checks decoded).

    Returns:
        A list of :class:`ImageStats`, one per path.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    # Pillow releases the GIL while it decodes, so threads use every core.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(_stats_of, paths, chunksize=16))


def _stats_of(path):
    import io

    import numpy as np
    from PIL import Image

    from vergeml.data.images import BadImageError, decode_image
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        width, height = Image.open(io.BytesIO(data)).size if data else (0, 0)
        image = decode_image(data, path, draft=(DECODE, DECODE))
    except BadImageError as err:
        return ImageStats(0, 0, None, None, None, None, err.reason)
    except OSError as err:  # the file itself (missing, unreadable)
        return ImageStats(0, 0, None, None, None, None, err.strerror or str(err))
    thumb = np.asarray(image.resize((THUMB, THUMB), Image.Resampling.BOX if min(image.size) >= THUMB
                                    else Image.Resampling.BICUBIC), dtype=np.uint8)
    grey = image.convert("L")
    grey.thumbnail((SHARP_SIDE, SHARP_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(grey, dtype=np.float32)
    return ImageStats(width, height, float(pixels.mean()), float(pixels.std()), _laplacian_variance(pixels),
                      thumb, "")


def _laplacian_variance(pixels):
    """The variance of the 4-neighbour Laplacian: low when edges are soft."""
    if min(pixels.shape) < 3:
        return 0.0
    centre = pixels[1:-1, 1:-1]
    laplacian = (pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4 * centre)
    return float(laplacian.var())


def _median(values):
    import numpy as np
    return float(np.median(values)) if len(values) else 0.0


def _unique(pairs):
    seen = {}
    for path, reason in pairs:
        seen.setdefault(path, reason)
    return list(seen.items())

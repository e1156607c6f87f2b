"""Heatmaps drawn over images, and where they are written: pure NumPy and Pillow.

:func:`overlay` blends a heatmap (any resolution, values in [0, 1]) over an
image in the 'turbo' colormap (Mikhailov 2019, Google's improved rainbow:
perceptually smoother than 'jet', still readable as cold blue -> hot red);
:func:`write_heatmap_png` writes the result atomically, and
:func:`heatmap_name` names the file after the image and the class.
"""
import re
from pathlib import Path

# 'turbo' at 33 evenly spaced points (matplotlib's 256-entry table, sampled);
# linear interpolation between them is within 2.2/255 of the full table.
_TURBO = (
    "30123b 392a73 4040a2 4456c7 466be3 4680f6 4294ff 37a8fa 28bceb 1ccdd8 18ddc2 "
    "1fe9af 32f298 4ef97d 6dfe62 8bff4b a4fc3c b7f735 cbed34 dde037 ecd13a f7c13a "
    "fdae35 fe992c fb8122 f56918 ec530f e14109 d23105 c12302 ac1701 950d01 7a0403")
DEFAULT_ALPHA = 0.45
# A label is cut to this many characters in a file name (names stay well under 255 bytes).
MAX_LABEL_CHARS = 64


def colormap(values):
    """The turbo colours of values in [0, 1].

    Args:
        values: float array of any shape; NaN counts as 0, values outside [0, 1] are clipped.

    Returns:
        float32 array ``values.shape + (3,)`` of RGB in [0, 255].
    """
    import numpy as np
    table = np.array([[int(c[i:i + 2], 16) for i in (0, 2, 4)] for c in _TURBO.split()],
                     dtype=np.float32)
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(table), dtype=np.float32)
    return np.stack([np.interp(values, stops, table[:, k]) for k in range(3)],
                    axis=-1).astype(np.float32)


def resize_heatmap(heatmap, height, width):
    """A heatmap scaled bilinearly to ``(height, width)``.

    Args:
        heatmap: float array ``(a, b)``.
        height, width: the target size in pixels.

    Returns:
        float32 array ``(height, width)``.
    """
    import numpy as np
    from PIL import Image
    heatmap = np.nan_to_num(np.asarray(heatmap, dtype=np.float32))
    if heatmap.ndim != 2:
        raise ValueError(f"a heatmap is 2-D, got shape {heatmap.shape}")
    scaled = Image.fromarray(heatmap).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(scaled, dtype=np.float32)


def overlay(image, heatmap, alpha=DEFAULT_ALPHA):
    """The image with the heatmap's colours blended over it.

    Args:
        image: uint8 RGB array ``(h, w, 3)`` (other numeric types are rounded
            and clipped to 0-255).
        heatmap: float array ``(a, b)`` in [0, 1], scaled to ``(h, w)``.
        alpha: weight of the colours (0: the image unchanged, 1: colours only).

    Returns:
        uint8 array ``(h, w, 3)``.
    """
    import numpy as np
    image = _as_uint8_rgb(image)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    colours = colormap(resize_heatmap(heatmap, *image.shape[:2]))
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _as_uint8_rgb(image):
    import numpy as np
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"an image is (height, width, 3), got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return image


def write_heatmap_png(path, image, heatmap, alpha=DEFAULT_ALPHA):
    """Write :func:`overlay` of ``image`` and ``heatmap`` as a PNG, atomically.

    Args:
        path: the destination (its folder is created).
        image, heatmap, alpha: as for :func:`overlay`.

    Returns:
        ``pathlib.Path`` of the written file.

    Raises:
        DiskError: the disk is full or the folder not writable.
    """
    import io

    from PIL import Image

    from vergeml.fileutil import atomic_write_bytes
    buffer = io.BytesIO()
    Image.fromarray(overlay(image, heatmap, alpha)).save(buffer, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def heatmap_name(source_path, label):
    """The file name of an image's heatmap for one class: ``photo.jpg`` and ``cat``
    -> ``photo.cat.heatmap.png``.

    The label is made safe for a file name: path separators, spaces and other
    characters outside letters, digits, ``.``, ``_`` and ``-`` become ``_``,
    leading dots are dropped (no hidden files, no ``..``), and it is cut to
    :data:`MAX_LABEL_CHARS`. Two labels differing only in such characters
    share a name.

    Args:
        source_path: the image's path (only its file name is used).
        label: the class name.

    Returns:
        str, a bare file name.
    """
    stem = Path(str(source_path)).stem or "image"
    return f"{stem}.{safe_label(label)}.heatmap.png"


def safe_label(label):
    """``label`` as a file-name component (see :func:`heatmap_name`)."""
    text = re.sub(r"[^\w.-]+", "_", str(label)).lstrip(".")[:MAX_LABEL_CHARS]
    return text or "_"

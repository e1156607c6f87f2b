"""Reading sample images: decode, EXIF orientation, RGB, and fitting to a size.

Every image the tool reads goes through :func:`decode_image` (:func:`load_image`
reads a file first), so all formats end up the same way: an RGB ``PIL.Image``, upright, with transparency
composited on black (the same colour ``aspect-fit`` letterboxes with).
"""
import io
import re
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from vergeml.data.formats import IMAGE_EXTENSIONS, RESIZE_MODES, is_image_file  # noqa: F401 (re-exported)
from vergeml.errors import VergeMLError

# Resampling filters by the names users write in vergeml.yaml.
METHODS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "antialias": Image.Resampling.LANCZOS,
}
BACKGROUND = (0, 0, 0)

# How every image is fitted to a model's input size: training, prediction, exports
# and the Ray workers alike. A JPEG at least twice the input size on both sides is
# decoded by libjpeg-turbo at 1/2, 1/4 or 1/8 scale in the DCT domain (Pillow's draft
# mode), keeping both sides at least DRAFT_FACTOR times the input size (an 8160x6144
# photo for 224 px: 1020x768, 2.3 MB of pixels instead of 150 MB), then resized with
# Pillow's bilinear filter, which on a downscale widens with the scale: an
# antialiased triangle filter. An image smaller than the input (digits, icons) is
# enlarged with Lanczos, as the original did: enlarging costs little with any filter,
# and bilinear changed the features of 8x8 digits enlarged to 224 px enough to move
# the doctor's and the unknown score's figures on them (bench_doctor_labels,
# bench_ood). On 1,000 real photos of ~420x350 decode + bilinear
# costs 1.5 ms of CPU an image, decode + Lanczos (the original's "antialias") 2.6 ms;
# on 4032x3024 photos 12 ms against 142 ms (bench/bench_extract_photos.py), for the
# same accuracy (bench/bench_pixel_path.py).
FIT_METHOD = "bilinear"
ENLARGE_METHOD = "antialias"
DRAFT_FACTOR = 1
# Part of every sample's cache key (fingerprint.sample_key): change it with the
# fitting above, so pixels and features cached by the old path are rebuilt, never mixed.
PIXEL_PATH = "jpeg-draft-1,bilinear,lanczos-enlarging"

# A truncated file must be an error, never a silently grey-padded image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# The one pixel limit of the tool: every image it decodes (training, ml predict, the
# REST service, the export check) goes through decode_image, which refuses a larger
# one from its header, before any pixel is decoded. 178,956,970 pixels is what
# training always accepted (twice Pillow's default MAX_IMAGE_PIXELS): a 200-megapixel
# phone photo (16320x12240) fits. Pillow's own check is moved up to it, so Pillow
# never warns about an image the tool accepts (a 100-megapixel photo printed a
# DecompressionBombWarning per open) and still refuses at twice the limit (frames and
# tiles of formats the header check does not see).
MAX_PIXELS = 178_956_970
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow now warns only about images over the limit, which check_pixels refuses in one line.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Errors Pillow raises for files it cannot decode.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  Image.DecompressionBombError, IndexError, TypeError)


class BadImageError(VergeMLError):
    """A sample file that cannot be read as an image.

    Args:
        path: the file.
        reason: why, in a few words (``truncated file``, ``not an image``).
    """

    def __init__(self, path, reason):
        super().__init__(f"cannot read image {path}: {reason}",
                         hint="Fix or remove the file, or pass --skip-bad-files to skip it.")
        self.path = path
        self.reason = reason


def load_image(path, draft=None):
    """Decode an image file into an upright RGB image.

    Args:
        path: file path (str or Path).
        draft: see :func:`decode_image`.

    Returns:
        ``PIL.Image`` in mode RGB.

    Raises:
        BadImageError: when the file is missing, corrupt, truncated or not an image.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise BadImageError(path, err.strerror or str(err)) from None
    return decode_image(data, path, draft)


def decode_image(data, path="<bytes>", draft=None):
    """Decode image bytes (see :func:`load_image`).

    Args:
        data: the encoded file content.
        path: name used in error messages.
        draft: optional ``(w, h)``: let JPEG decode at a reduced scale (1/2,
            1/4 or 1/8, the largest that keeps both sides at least ``w`` and
            ``h``), which still reads the whole stream (enough to find
            truncation) but is several times faster and needs up to 64 times
            less memory.

    Returns:
        ``PIL.Image`` in mode RGB.

    Raises:
        BadImageError: not an image, damaged, or over :data:`MAX_PIXELS`.
    """
    if not data:
        raise BadImageError(path, "not an image: empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        check_pixels(img.size, path)
        if draft and img.format == "JPEG":
            img.draft("RGB", draft)
        img.load()
        # In place: a copy of every photo (0.6 ms of a 420x350 JPEG's 1.2 ms decode) otherwise.
        ImageOps.exif_transpose(img, in_place=True)
        return to_rgb(img)
    except UnidentifiedImageError:
        raise BadImageError(path, "not an image or unsupported format") from None
    except Image.DecompressionBombError as err:  # Image.open refuses it from the header alone
        raise BadImageError(path, _too_large(err)) from None
    except _DECODE_ERRORS as err:
        raise BadImageError(path, _reason(err)) from None


def verify_image(data, path="<bytes>"):
    """Check that image bytes decode completely; return the reason or ''.

    Args:
        data: the encoded file content.
        path: name used in messages.

    Returns:
        ``''`` when the image is good, else a short reason.
    """
    try:
        decode_image(data, path, draft=(64, 64))
    except BadImageError as err:
        return err.reason
    return ""


def check_pixels(size, path="<bytes>"):
    """Refuse an image of more than :data:`MAX_PIXELS` pixels (a small file can hold one).

    Args:
        size: ``(width, height)`` from the header.
        path: name used in the message.

    Raises:
        BadImageError: over the limit.
    """
    width, height = size
    if width * height > MAX_PIXELS:
        raise BadImageError(path, too_large_reason(f"{width}x{height}, {width * height:,} pixels"))


def too_large_reason(what):
    """The one wording of an image over :data:`MAX_PIXELS` (``what``: its size)."""
    return (f"image too large ({what}; the limit is {MAX_PIXELS:,} pixels): "
            "a possible decompression bomb, not decoded")


def _too_large(err):
    """The reason for an image Pillow itself refuses as a decompression bomb (a
    frame or tile over twice :data:`MAX_PIXELS`)."""
    numbers = [int(n) for n in re.findall(r"\d+", str(err))]
    return too_large_reason(f"{numbers[0]:,} pixels" if numbers else "over twice the limit")


def _reason(err):
    text = str(err).strip() or type(err).__name__
    if "truncated" in text.lower() or isinstance(err, EOFError):
        return "truncated file"
    return text


def to_rgb(img):
    """Convert any Pillow mode to RGB.

    Transparency is composited on black; 16-bit and float grayscale is scaled
    to 0..255 rather than clipped, so such images do not come out white.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", img.size, BACKGROUND)
        background.paste(img.convert("RGBA"), mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def fit_draft(size, operations=()):
    """The ``draft`` of :func:`decode_image` for an image fitted to ``size`` pixels next.

    Args:
        size: the model's input size (None: no fit follows).
        operations: the ``data.preprocess`` operations applied before the fit.

    Returns:
        ``(w, h)`` (see :data:`DRAFT_FACTOR`), or None: no fit, or operations, whose
        pixel sizes (crop ...) mean the full image.
    """
    if not size or operations:
        return None
    return (DRAFT_FACTOR * size, DRAFT_FACTOR * size)


def fit_to_size(img, size, mode="fill", method=None):
    """Resize an image to an exact size.

    Args:
        img: ``PIL.Image``.
        size: an int (square) or ``(width, height)``.
        mode: ``fill`` (stretch), ``aspect-fill`` (cover, then centre crop) or
            ``aspect-fit`` (fit inside, letterbox on black).
        method: resampling filter name (see :data:`METHODS`); the ``resize``
            operation passes its own; None, the fit to a model's input:
            :data:`FIT_METHOD`, or :data:`ENLARGE_METHOD` for an image of fewer
            pixels than the result.

    Returns:
        ``PIL.Image`` of exactly that size.
    """
    width, height = (size, size) if isinstance(size, int) else tuple(size)
    if method is None:
        method = ENLARGE_METHOD if img.width * img.height < width * height else FIT_METHOD
    resample = METHODS[method]
    if img.size == (width, height):
        return img
    if mode == "fill":
        return img.resize((width, height), resample)
    if mode == "aspect-fill":
        return ImageOps.fit(img, (width, height), resample)
    if mode == "aspect-fit":
        return ImageOps.pad(img, (width, height), resample, color=BACKGROUND)
    raise ValueError(f"unknown resize mode {mode!r}; expected one of {', '.join(RESIZE_MODES)}")


def to_array(img):
    """An RGB image as a ``uint8`` array of shape (H, W, 3)."""
    return np.asarray(to_rgb(img), dtype=np.uint8)

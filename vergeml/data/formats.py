"""Names of the data layer that option declarations and light plugins need:
which files are images, the resize modes, the cache modes.

Kept free of heavy imports, so ``ml help`` and plugins that only list files
(``ml download``) do not load Pillow or NumPy. Each set is defined here once.
"""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

# How an image is fitted to a square input: stretch, crop to fill, letterbox.
RESIZE_MODES = ("fill", "aspect-fill", "aspect-fit")

# Where cached samples live: auto, none, disk, mem, and input-only variants.
CACHE_MODES = ("auto", "none", "disk", "mem", "disk-in", "mem-in")


def is_image_file(path):
    """Whether a file name has one of the supported image extensions."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)

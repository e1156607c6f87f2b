"""Which files are images: kept free of heavy imports, so plugins that only
list files (``ml download``) do not load Pillow or NumPy for ``ml help``."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_image_file(path):
    """Whether a file name has one of the supported image extensions."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)

"""Image paths as a user types them: files, folders (searched recursively), globs."""
import glob
import os

from vergeml.data.formats import is_image_file


def expand_paths(args):
    """Expand files, folders (recursively, image files) and globs.

    Args:
        args: paths as typed.

    Returns:
        Paths in the order given; folders sorted. A name that matches nothing
        is kept so it is reported as missing.
    """
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            paths.extend(_images_in(arg))
        elif not os.path.exists(arg) and glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            for match in matches or [arg]:
                paths.extend(_images_in(match) if os.path.isdir(match) else [match])
        else:
            paths.append(arg)
    return paths


def _images_in(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files)
                     if is_image_file(f) and not f.startswith("."))
    return found


def input_problem(path):
    """Why a path cannot be predicted, found without decoding it; None when it can.

    Checks that it is a readable file and that Pillow recognises its header
    (a file that is cut short or corrupt further in is found when decoded).

    Args:
        path: a path from :func:`expand_paths`.

    Returns:
        None, or a short reason (``No such file or directory``, ``is a
        directory``, ``not an image or unsupported format``).
    """
    if os.path.isdir(path):
        return "is a directory"
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        return err.strerror or str(err)
    from PIL import Image, UnidentifiedImageError  # here: 'ml help' must not load Pillow
    try:
        with Image.open(path):
            return None
    except UnidentifiedImageError:
        return "not an image or unsupported format"
    except Exception:  # noqa: BLE001 - any other failure: decoding reports it with its own words
        return None

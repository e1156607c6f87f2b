"""The two spellings of every name: hyphens where a user types it, underscores where it is stored.

``--learning_rate``, ``--learning-rate`` and ``Learning-Rate:`` in
``vergeml.yaml`` are one option, ``learning-rate``; metadata stores it as
``learning_rate``. Every conversion goes through these two functions.

Names made from user data, such as the per-label result ``Tabby Cat-precision``,
follow the same rules; inside a stored key runs of whitespace become one
underscore as well (``tabby_cat_precision``), so it can be typed unquoted.
"""
import re


def canonical(name):
    """The canonical spelling of a name: hyphens, lower case (``learning-rate``)."""
    return str(name).strip().lstrip("-").replace("_", "-").lower()


def stored_key(name):
    """The spelling under which a name is stored in metadata: underscores (``learning_rate``)."""
    return re.sub(r"\s+", "_", canonical(name).replace("-", "_"))

"""Download plugins for ``ml download:<name>``: one per data set.

Each is a :class:`vergeml.downloads.download_base.Download` plugin registered under
the ``vergeml.download`` entry-point group. ``digits`` is bundled with
scikit-learn and needs no network; the others are downloaded with
:func:`vergeml.downloads.http.download` (resume, checksum, atomic rename).
"""

"""The optional extras (``pip install 'vergeml[NAME]'``) and the one message for a
missing one.

Heavier engines are not part of the base install: ``export`` (ONNX, TFLite),
``openvino`` and ``ray``. A command that needs one checks for its modules
without importing them and, when they are missing, fails with one line that
names the extra and the command that installs it.
"""
from vergeml.errors import VergeMLError

# The extras setup.py declares.
EXTRAS = ("export", "openvino", "ray")


def install_hint(extra):
    """``pip install 'vergeml[extra]'``."""
    return f"pip install 'vergeml[{extra}]'"


def missing_modules(modules, find_spec=None):
    """The names of ``modules`` that cannot be imported (without importing them)."""
    import importlib.util
    find_spec = find_spec or importlib.util.find_spec
    missing = []
    for name in modules:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require(extra, what, modules, find_spec=None):
    """Raise the one-line error when a module of ``extra`` is missing.

    Args:
        extra: the extra's name (:data:`EXTRAS`).
        what: what needs it, as the message begins (``export to onnx``,
            ``--engine=ray``).
        modules: the importable names to look for.
        find_spec: ``importlib.util.find_spec`` (tests pass a stand-in).

    Raises:
        VergeMLError: ``<what> needs the <extra> extra: pip install 'vergeml[<extra>]'``.
    """
    if missing_modules(modules, find_spec):
        raise VergeMLError(f"{what} needs the {extra} extra: {install_hint(extra)}")

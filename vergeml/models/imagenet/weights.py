"""ImageNet weights files: their names, ``$KERAS_HOME``, offline detection, download.

Keras looks for application weights in ``$KERAS_HOME/models`` and downloads
them when missing. Here the file is located (or fetched) before the network
is built, so a missing file fails fast with a message naming it and the
folder to put it in, and an offline machine never waits on a hanging download.
"""
import os
import socket
import threading

from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.backbones import _MOBILENET_ALPHA_TEXT, resolve_alpha

# Host every keras.applications weights file is served from.
WEIGHTS_HOST = "storage.googleapis.com"
# Seconds allowed for DNS + TCP connect before declaring ourselves offline.
CONNECT_TIMEOUT = 3.0
# Socket timeout while Keras downloads, so a stalled transfer cannot hang forever.
DOWNLOAD_TIMEOUT = 60.0


def weights_file(backbone, alpha=1.0, size=None):
    """File name Keras uses for the no-top ImageNet weights.

    Args:
        backbone: Backbone.
        alpha: width multiplier (mobilenets only).
        size: input size; mobilenet and mobilenet-v2 have one file per size
            in ``backbone.sizes`` and use the 224 file for any other size.

    Returns:
        str, e.g. ``mobilenet_2_5_224_tf_no_top.h5``.

    Raises:
        ConfigError: alpha without ImageNet weights.
    """
    alpha = resolve_alpha(backbone, alpha, "imagenet")
    rows = size if backbone.sizes and size in backbone.sizes else 224
    return backbone.weights_pattern.format(
        alpha=f"{alpha}", alpha_text=_MOBILENET_ALPHA_TEXT.get(alpha, ""), rows=rows)


def weights_url(backbone, alpha=1.0, size=None):
    """Download address of :func:`weights_file`."""
    name = backbone.remote_name or weights_file(backbone, alpha, size)
    return backbone.weights_url + name


def keras_home():
    """``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when home is read-only), as Keras does.

    Read at call time: Keras itself reads the variable once, at import.
    """
    if "KERAS_HOME" in os.environ:
        return os.path.expanduser(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def weights_dir():
    """Folder where Keras caches application weights: ``$KERAS_HOME/models``."""
    return os.path.join(keras_home(), "models")


def normalize_weights(weights):
    """``imagenet``, ``none`` or an absolute path that exists."""
    text = "none" if weights is None else str(weights).strip()
    if text.lower() in ("imagenet", "none"):
        return text.lower()
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.isfile(path):
        raise ConfigError(f"weights file not found: {text} (use imagenet, none or a file path)")
    return path


def weights_path(backbone, alpha, size, weights):
    """Local path of the weights to load, or None for random weights.

    Args:
        backbone: a :class:`Backbone`.
        alpha: resolved width multiplier.
        size: resolved input size.
        weights: ``imagenet``, ``none`` or a file path (as :func:`normalize_weights` gives).

    Raises:
        VergeMLError: ImageNet weights absent and not downloadable.
    """
    if weights == "none":
        return None
    if weights != "imagenet":
        return weights
    name = weights_file(backbone, alpha, size)
    path = os.path.join(weights_dir(), name)
    if not os.path.isfile(path):
        _download(name, weights_url(backbone, alpha, size), _missing(backbone, alpha, name))
    return path


def _missing(backbone, alpha, name):
    folder = weights_dir()
    hint = f"Put {name} into {folder}, or use --weights=none to train on random weights."
    if backbone.sizes:
        fallback = weights_file(backbone, alpha, None)
        if fallback != name and os.path.isfile(os.path.join(folder, fallback)):
            hint += (f" {fallback} is present: any size but "
                     f"{', '.join(str(s) for s in backbone.sizes if s != 224)} uses it.")
    return VergeMLError(
        f"ImageNet weights for {backbone.name} are missing: {name} is not in "
        f"{folder} and could not be downloaded",
        hint=hint)


def _online():
    """Whether the weights host answers within CONNECT_TIMEOUT seconds.

    DNS lookups ignore socket timeouts and can block for tens of seconds, so
    the probe runs in a daemon thread that we simply stop waiting for.
    """
    result = []

    def probe():
        try:
            socket.create_connection((WEIGHTS_HOST, 443), timeout=CONNECT_TIMEOUT).close()
            result.append(True)
        except OSError:
            pass
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 0.5)
    return bool(result)


def _offline_forced():
    return os.environ.get("VERGEML_OFFLINE", "").strip().lower() not in ("", "0", "no", "false")


def _uses_proxy():
    return any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"))


def _download(name, url, missing_error):
    """Fetch a weights file into ``$KERAS_HOME/models`` or raise ``missing_error`` fast.

    VERGEML_OFFLINE=1 skips the network entirely. Otherwise a short probe
    of the weights host (skipped behind a proxy, which a direct connect
    cannot see through) decides before Keras's urlretrieve, which has no
    timeout of its own, gets a chance to hang.
    """
    if _offline_forced() or (not _uses_proxy() and not _online()):
        raise missing_error
    from vergeml.runtimes import tensorflow_setup as backend
    keras = backend.load()[1]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        keras.utils.get_file(name, url, cache_dir=os.path.dirname(weights_dir()),
                             cache_subdir="models")
    except Exception:  # noqa: BLE001 - any download failure means: not available
        raise missing_error from None
    finally:
        socket.setdefaulttimeout(previous)
    if not os.path.isfile(os.path.join(weights_dir(), name)):
        raise missing_error

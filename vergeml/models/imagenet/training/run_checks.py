"""Checks of ``ml train``'s options that need no data and no TensorFlow.

Run for every run of a grid before the first one trains, so a combination
that cannot work (``alpha`` on an architecture without one, a size below the
architecture's minimum, an unknown augmentation) is reported at once, not
after the runs before it have trained. They also say, in one warning line
each, when a given option has no effect with the others.
"""
import warnings

from vergeml.console import warn
from vergeml.data.split import parse_split
from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.training.augment import parse_augment
from vergeml.models.imagenet.backbones import get_backbone, resolve_alpha, resolve_size
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.models.imagenet.weights import normalize_weights

DEFAULTS = {o.name: o.default for o in TRAIN_OPTIONS}
# Options that only phase 2 (fine-tuning) reads.
FINE_TUNE_ONLY = ("fine-tune-layers", "fine-tune-learning-rate", "augment")


def check_runs(runs, env):
    """Validate every run's options; warn once about options without effect.

    Args:
        runs: the resolved options of each run (one dict per run; a grid's
            runs in order).
        env: the :class:`vergeml.settings.environment.Environment` (for ``val-split``).

    Raises:
        ConfigError: a run's options cannot work, naming the run in a grid.
    """
    notes = []
    for number, args in enumerate(runs, 1):
        try:
            check_run(args)
        except VergeMLError as error:
            if len(runs) == 1:
                raise
            raise ConfigError(f"grid run {number} of {len(runs)} ({_describe(args, runs)}): "
                              f"{error.message}", hint=error.hint) from None
        for note in ignored_options(args, env):
            if note not in notes:
                notes.append(note)
    for note in notes:
        warn(note)


def check_run(args):
    """Raise ConfigError when one run's backbone, size or augmentation cannot work."""
    backbone = get_backbone(args["architecture"], args["variant"])
    weights = args["weights"]
    if weights not in ("imagenet", "none"):
        weights = normalize_weights(weights)
    resolve_alpha(backbone, args["alpha"], weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the size note is shown once, when the run starts
        resolve_size(backbone, args["size"], weights)
    parse_augment(args["augment"])


def ignored_options(args, env):
    """One line per option of ``args`` that is set but has no effect.

    Returns:
        list of str.
    """
    notes = []
    if args["fine-tune-epochs"] == 0:
        unused = [name for name in FINE_TUNE_ONLY if args.get(name) != DEFAULTS[name]]
        if unused:
            notes.append(", ".join(f"--{n}" for n in unused) + " only act in phase 2, which "
                         "--fine-tune-epochs=0 turns off: ignored")
    patience = args["early-stopping-patience"]
    if patience and patience != DEFAULTS["early-stopping-patience"] and _no_validation(env):
        notes.append("--early-stopping-patience watches the validation loss, and --val-split "
                     "is 0: early stopping is off and the last epoch is kept")
    augment = [str(item).strip().lower() for item in args.get("augment") or ()]
    if "none" in augment and len(augment) > 1:
        notes.append(f"--augment={','.join(augment)}: 'none' is ignored next to other "
                     "augmentations; give --augment=none alone for no augmentation")
    return notes


def _no_validation(env):
    try:
        return parse_split(env.settings.get("val-split", "10%"), "val-split", env.project_dir).is_zero
    except VergeMLError:
        return False  # reported with its location when the data set is loaded


def _describe(args, runs):
    """``architecture=resnet-50, alpha=0.25``: the values that vary across the runs."""
    varying = [k for k in args if any(run.get(k) != args[k] for run in runs)]
    return ", ".join(f"{k}={_text(args[k])}" for k in varying) or "as the others"


def _text(value):
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

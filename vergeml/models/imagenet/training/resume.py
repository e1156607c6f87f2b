"""``ml @name resume`` and ``ml train --resume=@name``: continue a stopped run.

A cancelled, crashed or failed run continues from its last completed epoch
with everything :mod:`.run_state` saved: weights, optimizer state, epoch
counter, early-stopping counter, random generators and the best score, so
the best checkpoint is replaced only by a better epoch. The run keeps its
hyperparameters and its data settings (seed, splits, samples folder, the
``data:`` section, cache mode: :mod:`vergeml.data.run_settings`), whatever
the project file says now; only ``epochs`` and ``fine-tune-epochs`` may grow,
to extend it. Each file keeps the split the run recorded for it
(:mod:`vergeml.instances.sample_record`), and the data must be what the run
started on (same fingerprint); otherwise the refusal names what changed.
Until training continues, nothing is written: no split assignment, no cache
entry, no change to the run.
"""
import os

from vergeml.errors import UsageError, VergeMLError
from vergeml.settings.spelling import canonical

RESUMABLE = ("cancelled", "crashed", "failed")
EXTENDABLE = ("epochs", "fine-tune-epochs")
NOT_HYPERPARAMETERS = ("name", "resume", "labels")


def resume(env, name, typed, explicit=()):
    """Continue the run ``@name``. Returns the exit status.

    Args:
        env: the :class:`vergeml.settings.environment.Environment`.
        name: the instance name (with or without ``@``).
        typed: train options given for the resumed run; values other than
            their defaults must equal the run's own, except :data:`EXTENDABLE`.
        explicit: names the user typed for certain (``ml @x resume --epochs=5``),
            which count even when they equal the default.
    """
    from vergeml.instances import load_instance
    from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
    from vergeml.models.imagenet.training.run_state import load_state
    instance = load_instance(env.trainings_dir, name.lstrip("@"))
    _check_status(instance)
    state = load_state(instance.checkpoints_dir)
    if state is None:
        raise VergeMLError(f"@{instance.name} stopped before its first epoch ended: there is "
                           "nothing to resume from", hint="Start a new run with 'ml train'.")
    defaults = {o.name: o.default for o in TRAIN_OPTIONS}
    args = resumed_args(instance, typed, defaults, explicit)
    _check_extension(args, state, instance)
    return _continue(env, instance, state, args)


def run_dataset(env, instance):
    """The run's environment and data set, rebuilt as the run started.

    Returns:
        ``(run_env, dataset)``.

    Raises:
        UsageError: a data setting typed now differs from the run's.
        VergeMLError: the samples changed since the run started.
    """
    from vergeml.data import load_dataset
    from vergeml.data.run_settings import run_environment, typed_conflicts
    from vergeml.instances.sample_record import read_record
    data = instance.metadata.get("data") or {}
    run_env = run_environment(env, data)
    conflicts = typed_conflicts(env, run_env)
    if conflicts:
        raise UsageError(f"@{instance.name} keeps the data settings it started with, but these "
                         f"differ: {', '.join(conflicts)}",
                         hint="Leave them out to resume, or start a new run with 'ml train'.")
    record = read_record(instance)
    assignment = {rel: split for rel, (_, split, _) in record.items()} if record is not None else None
    dataset = load_dataset(run_env, skip_bad=run_env.settings.get("skip-bad-files", False),
                           assignment=assignment)
    if dataset.fingerprint != data.get("fingerprint"):
        raise VergeMLError(f"the samples changed since @{instance.name} started: "
                           f"{_what_changed(record, dataset)}; resuming would train on other data",
                           hint="Put the samples back as they were, or start a new run with "
                                "'ml train'.")
    return run_env, dataset


def _what_changed(record, dataset):
    from vergeml.instances.sample_record import compare
    if record is None:
        return "a file was added, removed or edited, or the preprocessing changed " \
               "(this run keeps no list of its samples)"
    now = {rel: (label, split, digest) for rel, label, split, digest in dataset.files()}
    return compare(record, now) or "the files are the same, but the preprocessing or split " \
                                   "settings differ"


def _check_status(instance):
    status = instance.status
    if status == "finished":
        raise UsageError(f"@{instance.name} is finished: nothing to resume",
                         hint="Start a new run with 'ml train' to train longer.")
    if status not in RESUMABLE:
        raise UsageError(f"@{instance.name} is {status}: only a cancelled, crashed or failed "
                         "run can be resumed")


def resumed_args(instance, typed, defaults, explicit=()):
    """The run's own train options, with ``epochs``/``fine-tune-epochs`` raised if asked.

    A typed value equal to its default counts only when named in ``explicit``:
    ``ml train --resume`` fills in every default, ``ml @x resume`` does not.

    Raises:
        UsageError: a typed value differs from the run's (a new run is needed).
    """
    stored = {canonical(k): v for k, v in instance.hyperparameters.items()
              if canonical(k) not in NOT_HYPERPARAMETERS}
    args = {**defaults, **stored, "name": instance.name}
    if "l2" not in stored:  # stored before l2 existed: the run trained without a penalty
        args["l2"] = 0.0
    if "class-weights" not in stored:  # stored before class weights existed: none
        args["class-weights"] = "none"
    changed = []
    for key, value in (typed or {}).items():
        if key in NOT_HYPERPARAMETERS or value is None:
            continue
        if key not in explicit and _same(value, defaults.get(key)):
            continue
        if key in EXTENDABLE and value == "auto":
            raise UsageError(f"--{key}=auto chooses a new run's budget; a resumed run keeps "
                             f"its own ({stored.get(key)})",
                             hint=f"Give a number to train longer, e.g. --{key}={stored.get(key)}.")
        if key in EXTENDABLE:
            args[key] = value
        elif key in stored and not _same(value, stored[key]):
            changed.append(f"{key} {value} (the run has {stored[key]})")
    if changed:
        raise UsageError(f"a resumed run keeps its hyperparameters, but these differ: "
                         f"{', '.join(changed)}",
                         hint="Start a new run with 'ml train' to change them.")
    return args


def _same(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [str(x) for x in a] == [str(x) for x in b]
    return a == b


def _check_extension(args, state, instance):
    """Epoch counts may grow, never shrink below what is done, and phase 1 cannot
    grow once phase 2 has begun."""
    from vergeml.models.imagenet.training.fine_tune import phase_end
    top_done = phase_end(state, "top")
    stored = instance.hyperparameters
    if state.phase == "fine-tune" and args["epochs"] != stored.get("epochs"):
        raise UsageError(f"@{instance.name} is fine-tuning: phase 1 is over, so --epochs cannot "
                         "change", hint="Raise --fine-tune-epochs to train longer.")
    if args["epochs"] < top_done:
        raise UsageError(f"@{instance.name} has done {top_done} epochs already; "
                         f"--epochs={args['epochs']} would undo them")
    if state.phase == "fine-tune" and top_done + args["fine-tune-epochs"] < state.epochs_done:
        raise UsageError(f"@{instance.name} has done {state.epochs_done - top_done} fine-tune "
                         f"epochs already; --fine-tune-epochs={args['fine-tune-epochs']} would "
                         "undo them")


def _continue(env, instance, state, args):
    from vergeml.runtimes import tensorflow_setup as backend
    from vergeml.instances.liveness import hostname
    from vergeml.models.imagenet.extraction.feature_cache import cached_features
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    from vergeml.models.imagenet.training.training_run import Run
    env, dataset = run_dataset(env, instance)
    seed = env.random_seed
    backend.load(env.settings)
    backend.announce_device()
    extractor = FeatureExtractor.from_options(args, seed, env.cache_dir)
    features = cached_features(dataset, extractor, args, env.settings)
    for leftover in instance.path.rglob(".*.tmp*"):  # a kill -9 mid-write leaves these
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
    instance.metadata.update(status="running", pid=os.getpid(), host=hostname(), error=None)
    instance.metadata["hyperparameters"].update(epochs=args["epochs"],
                                                fine_tune_epochs=args["fine-tune-epochs"])
    instance.save()
    print(f"Resuming @{instance.name} after epoch {state.epochs_done} "
          f"({'phase 2' if state.phase == 'fine-tune' else 'phase 1'})")
    run = Run(instance, state, args, seed, dataset, extractor, features)
    try:
        run.train()
    except KeyboardInterrupt:
        run.cancel()
        return 130
    except BaseException as error:
        instance.set_status("failed", error=f"{type(error).__name__}: {error}")
        raise
    return 0

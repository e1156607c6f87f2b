"""The steps of ``ml train`` for the imagenet model.

1. Fingerprint the samples and build or reuse the cache of backbone features.
2. Load the architecture (fails fast when its weights are missing).
3. Train the top on the cached features, validating every epoch and keeping
   the best epoch's weights.
4. Test the best epoch, save the full model, labels and results into
   ``trainings/<instance>/``.

TensorFlow and Keras are imported here, never by the modules ``ml help`` reads.
"""
import signal
import sys
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from vergeml.console import warn
from vergeml.data.run_settings import stored_settings
from vergeml.errors import VergeMLError
from vergeml.instances.run_files import write_project_file
from vergeml.instances.sample_record import write_record
from vergeml.settings.spelling import stored_key



# Exit statuses of a stopped run: 128 + the signal, as a shell reports them.
INTERRUPTED, TERMINATED = 130, 128 + signal.SIGTERM


class Cancelled(KeyboardInterrupt):
    """Raised by the SIGTERM handler so a terminated run ends like Ctrl-C."""


def train(args, env, metadata=None):
    """Run ``ml train``. Returns the exit status.

    Args:
        args: the train options.
        env: the :class:`vergeml.settings.environment.Environment`.
        metadata: top-level ``data.yaml`` entries to record from the start
            (a grid's id and run number).
    """
    # SIGTERM ends every step like Ctrl-C: while extracting, the features
    # done so far are committed to the cache; while training, the run is
    # cancelled with its best checkpoint.
    return _stoppable(_train, args, env, metadata)


def resume_run(env, name, typed, explicit=()):
    """``ml @name resume``: :func:`vergeml.models.imagenet.training.resume.resume`, SIGTERM as Ctrl-C."""
    from vergeml.models.imagenet.training.resume import resume
    return _stoppable(resume, env, name, typed, explicit)


def _stoppable(work, *args):
    """``work(*args)`` with SIGTERM handled like Ctrl-C; its exit status.

    A run stopped by SIGTERM exits 143 and one stopped by Ctrl-C 130 (128 + the
    signal, as a shell reports a process the signal ended), whichever step it
    was in. Ctrl-C before a run exists is left to the command line ("Interrupted.").
    """
    with _sigterm_as_interrupt() as terminated:
        try:
            status = work(*args)
        except KeyboardInterrupt:
            if not terminated:
                raise
            print("\nTerminated.", file=sys.stderr)
            return TERMINATED
        finally:
            _release_pipelines()
    return TERMINATED if terminated and status == INTERRUPTED else status


def _release_pipelines():
    """Free what a stopped ``fit`` left (its ``tf.data`` iterators, held by the
    interrupted frames) while Python is fully alive.

    Left to the interpreter's exit, an iterator's destructor may join
    TensorFlow threads that wait for a GIL the exiting interpreter no longer
    hands out, and the process hangs after "Cancelled" (the likely cause of a
    run that once did not exit within 120 s of Ctrl-C under heavy load).
    """
    if "tensorflow" in sys.modules:
        import gc
        gc.collect()


def _train(args, env, metadata=None):
    from vergeml.models.imagenet.training.training_run import Run
    from vergeml.models.imagenet.training.run_state import RunState
    if args.get("resume"):
        from vergeml.models.imagenet.training.resume import resume
        typed = {k: v for k, v in args.items() if k in env.command_line}
        return resume(env, args["resume"], typed, explicit=tuple(typed))
    from vergeml.models.imagenet.training.head import resolve_learning_rates
    args = resolve_learning_rates(args)  # stored as numbers: a resumed run never re-resolves auto
    prepared = prepare(args, env)
    args, recipe = resolve_run(args, prepared)
    instance = run = None
    try:
        instance = new_instance(args, env, prepared, {**(metadata or {}), **recipe})
        run = Run(instance, RunState(), args, env.random_seed, prepared.dataset,
                  prepared.extractor, prepared.features)
        run.train()
    except KeyboardInterrupt:
        if run is not None:
            run.cancel()
        elif instance is not None:  # stopped before its first epoch: nothing to keep
            instance.set_status("cancelled")
        return INTERRUPTED
    except BaseException as error:
        if instance is not None:
            instance.set_status("failed", error=f"{type(error).__name__}: {error}")
        raise
    return 0


class Prepared(NamedTuple):
    """What the runs of one ``ml train`` share: the samples, the backbone, the cached
    features, and the project file as it was when training started."""

    dataset: object
    extractor: object
    features: dict
    project_text: str


def prepare(args, env, local_extraction=False):
    """Everything before a run gets its folder: the checks, the data, TensorFlow with the
    device, the backbone, the cached features (extracting what is missing).

    Args:
        args: the train options, learning rates resolved.
        env: the :class:`vergeml.settings.environment.Environment`.
        local_extraction: extract missing features here whatever ``--engine`` says (a
            search on a Ray of its own: that Ray would be this machine anyway).

    Returns:
        :class:`Prepared`.
    """
    from vergeml.runtimes import tensorflow_setup as backend
    from vergeml.data import load_dataset
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    from vergeml.models.imagenet.outputs import warn_ignored
    from vergeml.models.imagenet.extraction.feature_cache import cached_features
    from vergeml.instances import check_new_name, check_writable
    from vergeml.models.imagenet.training.augment import parse_augment
    parse_augment(args["augment"])  # a typo fails now, not after the extraction
    project_text = _project_snapshot(args, env)  # as it is now, not after a long extraction
    if args.get("name") is not None:
        check_new_name(env.trainings_dir, args["name"])  # a clash is found before any long work
    dataset = load_dataset(env, skip_bad=env.settings.get("skip-bad-files", False))
    _check_dataset(dataset, args)
    warn_ignored(dataset.config.output, args)
    check_writable(env.trainings_dir)  # a read-only trainings folder fails before the extraction
    backend.load(env.settings)  # after the data checks: bad input is reported without waiting for TF
    backend.announce_device()
    _seed_everything(env.random_seed)
    extractor = FeatureExtractor.from_options(args, env.random_seed, env.cache_dir)
    extractor.model  # noqa: B018 - step 2 up front: missing weights fail before any long work
    settings = {**env.settings, "engine": "local"} if local_extraction else env.settings
    features = cached_features(dataset, extractor, args, settings)
    return Prepared(dataset, extractor, features, project_text)


def resolve_run(args, prepared):
    """One run's options as it trains with them (stored, so a resumed run never decides
    again): ``l2``, ``class-weights`` and the fine-tune recipe resolved.

    Returns:
        ``(args, recipe metadata)``.
    """
    from vergeml.models.imagenet.training.head import resolve_l2
    features, labels = prepared.features, prepared.dataset.labels
    args = resolve_l2(args, len(features["train"][0]))  # stored as a number, like the rates
    args = _resolve_class_weights(args, features, labels)
    return _resolve_recipe(args, len(features["train"][0]), len(labels))


def new_instance(args, env, prepared, metadata=None):
    """A run's folder, created as ``ml train`` creates it (``data.yaml``, ``samples.csv``,
    the project file).

    Args:
        args: the run's resolved options.
        env: the environment.
        prepared: :class:`Prepared`.
        metadata: top-level ``data.yaml`` entries (grid id and run, the recipe).

    Returns:
        The :class:`vergeml.instances.Instance`, status running.
    """
    instance = _create_instance(args, env, prepared.dataset, prepared.extractor, metadata)
    write_project_file(instance, prepared.project_text)
    return instance


def _resolve_class_weights(args, features, labels):
    """``args`` with ``class-weights`` as the run trains with them (stored: a resumed run
    never decides again): ``{label: weight}`` or ``none``; the auto decision in one line."""
    from vergeml.models.imagenet.training.class_weights import NONE, resolve_class_weights
    counts = np.bincount(np.asarray(features["train"][1], dtype=int), minlength=len(labels))
    weights, note = resolve_class_weights(args.get("class-weights"), counts.tolist(), list(labels))
    if note:
        print(note)
    return {**args, "class-weights": weights if weights is not None else NONE}


def _resolve_recipe(args, train_count, num_classes):
    """``args`` with ``fine-tune-epochs`` a number, and the metadata entry of the
    fine-tune recipe (none without phase 2); ``auto`` chosen in one line."""
    from vergeml.models.imagenet.training.fine_tune import RECIPE_KEY
    from vergeml.models.imagenet.training.recipe import choose_recipe
    epochs = args.get("fine-tune-epochs")
    if not epochs:
        return args, {}
    recipe = choose_recipe(train_count, num_classes, args["batch-size"], epochs)
    if epochs == "auto":
        print(f"fine-tune-epochs auto: {recipe.epochs} epochs for {train_count} training images")
    return {**args, "fine-tune-epochs": recipe.epochs}, {RECIPE_KEY: recipe.to_dict()}


def _check_dataset(dataset, args):
    if len(dataset.labels) < 2:
        raise VergeMLError(f"found {len(dataset.labels)} class(es) in the samples folder; "
                           "training a classifier needs at least 2",
                           hint="Put images into samples/<class>/ folders, one per class.")
    if not dataset.samples("train"):
        raise VergeMLError("the training split is empty",
                           hint="Add samples or lower --val-split / --test-split.")
    spec = dataset.split_spec("val")
    if dataset.samples("val") or (spec is not None and spec.is_zero):
        _warn_empty_test(dataset)
        return  # never train silently without validation: only --val-split=0 asks for that
    raise VergeMLError(f"{_empty_split('val', spec)}; set --val-split to a count such as "
                       f"--val-split={max(len(dataset.labels), 1)} or add more images "
                       "(--val-split=0 trains without validation and keeps the last epoch)")


def _warn_empty_test(dataset):
    """An empty test split is allowed (the run has no test scores), but never silent
    unless --test-split=0 asked for it."""
    spec = dataset.split_spec("test")
    if not dataset.samples("test") and not (spec is not None and spec.is_zero):
        warn(f"{_empty_split('test', spec)}: the run will have no test scores (test_acc, "
             f"plots); set --test-split to a count such as --test-split="
             f"{max(len(dataset.labels), 1)}, or --test-split=0 to train without one")


def _empty_split(split, spec):
    """Why the ``val`` or ``test`` split is empty, for a message."""
    if spec is not None and spec.kind == "dir":
        return f"the {split}-split directory holds no images"
    setting = f"{spec.value * 100:g}%" if spec is not None and spec.kind == "percent" \
        else getattr(spec, "value", "")
    name = "validation" if split == "val" else "test"
    return f"the {name} split is empty: too few images per class for {split}-split {setting}"


def _project_snapshot(args, env):
    """Text of ``trainings/<name>/vergeml.yaml``: the project file as it is
    when training starts, or the resolved settings when there is none."""
    from vergeml.settings.project_settings import GLOBAL_OPTIONS
    from vergeml.instances.run_files import read_project_text, resolved_project_text
    text = read_project_text(env.project.path)
    if text is not None:
        return text
    settings = {"model": env.model_name}
    settings.update((o.name, env.settings.get(o.name)) for o in GLOBAL_OPTIONS
                    if o.yaml and o.name not in settings)
    train_options = {k: v for k, v in args.items() if v is not None}
    return resolved_project_text(settings, {"data": env.data_config, "train": train_options})


def _seed_everything(seed):
    import keras
    keras.utils.set_random_seed(seed)


def _create_instance(args, env, dataset, extractor, metadata=None):
    import keras
    import tensorflow as tf
    from vergeml.instances import create_instance
    hyperparameters = {stored_key(k): v for k, v in args.items() if k != "name"}
    hyperparameters.update(size=extractor.size, labels=list(dataset.labels))
    instance = create_instance(env.trainings_dir, "imagenet", extractor.backbone.keras_name,
                               hyperparameters, name=args.get("name"))
    sizes = dataset.split_sizes()
    # The operations are stored so that prediction prepares images exactly as training did.
    instance.metadata["data"] = {"fingerprint": dataset.fingerprint, "labels": list(dataset.labels),
                                 "random_seed": env.random_seed,
                                 "preprocess": env.data_config.get("preprocess") or [],
                                 **{f"num_{k}": v for k, v in sizes.items()},
                                 **stored_settings(env)}  # what a resumed run rebuilds its data with
    write_record(instance, dataset.files())
    instance.metadata.update(metadata or {})
    instance.metadata.setdefault("versions", {}).update(
        tensorflow=tf.__version__, keras=keras.__version__, numpy=np.__version__)
    instance.update_results(num_samples=sizes["train"])
    print(f"Training @{instance.name} ({extractor.backbone.name}, {sizes['train']} train, "
          f"{sizes['val']} val, {sizes['test']} test samples)")
    return instance


@contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C while training, so the run ends as cancelled.

    Yields:
        A list that holds the signal once SIGTERM arrived.
    """
    received = []

    def handler(signum, frame):
        received.append(signum)
        raise Cancelled()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)

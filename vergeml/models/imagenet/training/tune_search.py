"""A search on Ray Tune: ``ml train --search=asha`` or ``--engine=ray`` with several runs.

The driver (this process) does what a local grid does before and after
training, and Ray Tune runs the part in between on the cluster:

1. The samples and their cached features, once (:func:`.train.prepare`); every
   trial's folder created here as ``ml train`` creates it (status running, the
   grid's id and the trial's number), its options resolved.
2. Tune runs :func:`.tune_trial.run_trial` per trial: the top trained on the
   features (sent through the object store) in a temporary folder on a worker,
   each epoch reported. With ``--search=asha`` Tune's ASHA scheduler stops weak
   trials at a rung; otherwise every trial runs its epochs.
3. Each trial's folder comes back as files (:class:`.tune_trial.Collector`) and is
   written here atomically; the run is then finished exactly as a local one
   (:class:`.training_run.Run`: calibration, rejection, test, ``model.keras``).
   A trial ASHA stopped is finished at its best epoch and marked ``stopped``; a
   trial that crashed is marked ``failed`` with its error and the others go on.
   Ctrl-C stops every trial and marks each not finished ``cancelled``.

Only the top's options may vary (the features are shared); phase 2 does not run
on Ray (fine-tune the best trial afterwards with ``ml @name resume``).
"""
import contextlib
import io
import math
import os
import sys
import tempfile

from vergeml.console import warn
from vergeml.errors import UsageError
from vergeml.grid.grid_runner import release_backend
from vergeml.models.imagenet.imagenet_options import FEATURE_OPTION_NAMES
from vergeml.models.imagenet.training.tune_trial import (METRIC, MODE, Collector, folder_files,
                                                         run_trial, write_files)

# What one trial's worker needs besides the shared features: Python, TensorFlow, a top.
TRIAL_MEMORY = 800 * 1024 * 1024
ASHA_REDUCTION = 3  # ASHA keeps a third of the trials at each rung


def check_search(grid_axes, base):
    """Refuse what a search on Ray cannot run.

    Raises:
        UsageError: a varying option that changes the features, or phase 2.
    """
    shared = sorted(set(grid_axes) & set(FEATURE_OPTION_NAMES + ("fine-tune-epochs",)))
    if shared:
        raise UsageError(f"--{shared[0]} cannot vary in a search on Ray: its trials share one "
                         "set of features", hint="Vary the top's options (learning-rate, "
                         "dropout, layers, l2, batch-size, epochs, optimizer ...).")
    if base.get("fine-tune-epochs"):
        raise UsageError("a search on Ray trains the top only: drop --fine-tune-epochs",
                         hint="Fine-tune the best trial afterwards: ml @NAME resume "
                              "--fine-tune-epochs=N.")


def concurrency(trials, cpus, memory, per_trial=TRIAL_MEMORY):
    """How many trials run at once: bounded by the cluster's CPUs and by its memory.

    Args:
        trials: the number of trials.
        cpus: the cluster's CPUs.
        memory: the memory Ray may schedule, in bytes.
        per_trial: what one trial needs.

    Returns:
        At least 1.
    """
    return max(1, min(trials, int(cpus), int(memory // per_trial)))


def asha_scheduler(epochs):
    """Tune's ASHA over the epochs of the top: the first rung after about an eighth of them."""
    from ray.tune.schedulers import ASHAScheduler
    return ASHAScheduler(time_attr="training_iteration", metric=METRIC, mode=MODE, max_t=epochs,
                         grace_period=max(1, math.ceil(epochs / 8)),
                         reduction_factor=ASHA_REDUCTION)


def trial_status(error, state, epochs):
    """What a trial's run is once Tune is done with it.

    Args:
        error: the trial's error (None: it ended without one).
        state: its last committed :class:`~.run_state.RunState` (None: no epoch done).
        epochs: the epochs it was to train.

    Returns:
        ``failed``, ``stopped`` (ASHA stopped it before its own end) or ``finished``.
    """
    if error is not None or state is None:
        return "failed"
    if state.epochs_done < epochs and not state.stopped_early and not state.diverged:
        return "stopped"
    return "finished"


def run_search(args, env, options, asha):
    """Train the runs of a grid or search as trials on Ray Tune.

    Args:
        args: the resolved train options (lists and ranges for the axes).
        env: the :class:`vergeml.settings.environment.Environment`.
        options: the train command's declarations.
        asha: stop weak trials early (``--search=asha``).

    Returns:
        The exit status: 0 when every trial finished or was stopped by ASHA, 1 when
        one failed, 130 when cancelled.
    """
    from vergeml.grid.grid_plan import axis_text, new_grid_id, plan
    from vergeml.grid.grid_runner import run_args, summary
    base, runs, grid_axes = plan(args, options, env.random_seed)
    check_search(grid_axes, base)
    grid_id = new_grid_id()
    print(f"Grid {grid_id}: {len(runs)} trials on Ray Tune"
          + (" (ASHA stops weak ones early)" if asha else "") + " over "
          + ", ".join(f"{n} ({axis_text(v)})" for n, v in grid_axes.items()), flush=True)
    trials, prepared = _create_trials(args, env, [run_args(args, base, c) for c in runs], grid_id)
    status = _tune(trials, prepared, env, asha)
    if status != 130:
        summary(env.trainings_dir, grid_id)
    return status


def _create_trials(args, env, runs, grid_id):
    """Prepare the data once, then every trial's folder and resolved options."""
    from vergeml.instances.grid_listing import GRID_KEY, RUN_KEY
    from vergeml.models.imagenet.training.head import resolve_learning_rates
    from vergeml.models.imagenet.training.train import new_instance, prepare, resolve_run
    prepared = prepare(resolve_learning_rates(runs[0]), env, local_extraction=_embedded(env))
    trials = []
    for number, run_args in enumerate(runs, 1):
        run_args, recipe = resolve_run(resolve_learning_rates(run_args), prepared)
        instance = new_instance(run_args, env, prepared, {GRID_KEY: grid_id, RUN_KEY: number,
                                                           **recipe})
        trials.append((instance, run_args))
    return trials, prepared


def _tune(trials, prepared, env, asha):
    """Run the trials on the cluster, then finish each here. Returns the exit status."""
    from vergeml.models.imagenet.extraction.ray_cluster import connected
    payload = [{"name": i.name, "args": a, "files": folder_files(i.path)} for i, a in trials]
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")  # Ctrl-C reaches this process
    with connected(_address(env), local=_embedded(env)) as ray:
        collector = ray.remote(num_cpus=0)(Collector).remote()
        try:
            results = _fit(ray, payload, prepared, env, asha, collector)
        except KeyboardInterrupt:
            _bring_back(ray, collector, trials)
            for instance, args in trials:
                _end(instance, args, prepared, env, None, cancelled=True)
            print("\nCancelled: every trial stopped.", file=sys.stderr)
            return 130
        _bring_back(ray, collector, trials)
    failed = 0
    for (instance, args), result in zip(trials, results):
        failed += _end(instance, args, prepared, env, result.error) == "failed"
        release_backend()
    return 1 if failed else 0


def _fit(ray, payload, prepared, env, asha, collector):
    """``Tuner.fit()``; the results in trial order."""
    from ray import tune
    resources = ray.cluster_resources()
    parallel = concurrency(len(payload), resources.get("CPU", 1), resources.get("memory", 0))
    epochs = max(a["args"]["epochs"] for a in payload)
    names = [trial["name"] for trial in payload]
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, features=prepared.features, trials=payload,
                             seed=env.random_seed, collector=collector, threads=1),
        {"cpu": 1, "memory": TRIAL_MEMORY})
    with tempfile.TemporaryDirectory(prefix="vergeml-tune-") as storage:
        tuner = tune.Tuner(
            trainable, param_space={"trial": tune.grid_search(list(range(len(payload))))},
            tune_config=tune.TuneConfig(scheduler=asha_scheduler(epochs) if asha else None,
                                        max_concurrent_trials=parallel),
            run_config=tune.RunConfig(storage_path=storage, name="search", verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=0),
                                      callbacks=[_progress(tune, names, sys.stdout)]))
        with contextlib.redirect_stdout(io.StringIO()):  # Tune's tables; ours go to the real stdout
            grid = tuner.fit()
        return sorted((grid[i] for i in range(len(grid))), key=lambda r: r.config["trial"])


def _progress(tune, names, out):
    """A Tune callback printing one line per trial epoch, stop and error, as a grid does."""
    class Progress(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            number = trial.config["trial"]
            print(f"Trial {number + 1}/{len(names)} @{names[number]} epoch {result['epoch']}: "
                  f"{METRIC} {result[METRIC]:.3f}", file=out, flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            number = trial.config["trial"]
            print(f"Trial {number + 1}/{len(names)} @{names[number]} failed", file=out, flush=True)
    return Progress()


def _bring_back(ray, collector, trials):
    """Write each trial's latest files into its folder here (atomically, file by file)."""
    for instance, _ in trials:
        files = ray.get(collector.get.remote(instance.name))
        if files:
            write_files(instance.path, files)


def _end(instance, args, prepared, env, error, cancelled=False):
    """Finish one trial's run here as a local run ends; its status."""
    from vergeml.instances import load_instance
    from vergeml.models.imagenet.training.run_state import load_state
    from vergeml.models.imagenet.training.training_run import Run
    instance = load_instance(env.trainings_dir, instance.name)
    state = load_state(instance.checkpoints_dir)
    run = Run(instance, state, args, env.random_seed, prepared.dataset, prepared.extractor,
              prepared.features)
    if cancelled:
        if instance.metadata.get("status") == "running":
            run.cancel()
        return "cancelled"
    status = trial_status(error, state, args["epochs"])
    if status == "failed":
        message = _error_text(error) if error is not None else "no epoch finished"
        warn(f"trial @{instance.name} failed: {message}")
        instance.set_status("failed", error=message)
        return status
    if status == "stopped":
        state.stopped_early = True  # finish at its best epoch, do not train on here
    run.train()
    if status == "stopped":
        instance.update_results(stopped_by="asha")
        instance.set_status("stopped")
    return status


def _error_text(error):
    """The first line of a trial's error, without Ray's wrapping."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(cause).__name__


def _address(env):
    return env.settings.get("ray-address") or "auto"


def _embedded(env):
    """Whether to start a Ray of this process' own: no ``--ray-address`` given anywhere."""
    given = "ray-address" in env.command_line or env.project.data.get("ray-address") is not None
    return not given


def require_tune(find_spec=None):
    """The one-line error of a missing extra when Ray Tune cannot run (the ``ray`` extra:
    Ray, and pydantic, which Ray Tune imports)."""
    from vergeml.runtimes.extras import require
    require("ray", "a search on Ray", ["ray", "pydantic"], find_spec)

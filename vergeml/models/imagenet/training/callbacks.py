"""The Keras callback of ``ml train``: one checkpoint commit per epoch.

It keeps the one best-epoch rule of both phases (higher val_acc; on a tie,
lower val_loss; without validation the last epoch), early stopping whose
state survives a restart, the history, and the instance's metadata. An
epoch whose loss is NaN or infinite never counts as the best: it stops the
run (:attr:`RunState.diverged <vergeml.models.imagenet.training.run_state.RunState>`).

``loss`` and ``val_loss`` are the mean cross-entropy the glossary defines,
without the L2 penalty Keras adds to its own ``loss`` (see :func:`loss_metrics`).
"""
import math

import keras

from vergeml.fileutil import atomic_write_text
from vergeml.models.imagenet.training.run_state import commit, link_atomically, seed_states

HISTORY_COLUMNS = ("epoch", "phase", "acc", "loss", "val_acc", "val_loss")
METRICS = HISTORY_COLUMNS[2:]
CROSS_ENTROPY = "cross_entropy"
PENALTY = "l2_penalty"


def loss_metrics():
    """The metrics both phases compile with: accuracy and the plain cross-entropy.

    Keras' ``loss`` is what the optimizer minimises, the L2 penalty included;
    the cross-entropy metric is the loss without it, the number ``test_loss``
    is too (:func:`plain_losses` puts it in ``loss``).
    """
    return ["acc", keras.metrics.SparseCategoricalCrossentropy(name=CROSS_ENTROPY)]


def plain_losses(logs, model=None):
    """Make ``loss`` and ``val_loss`` of an epoch's Keras logs the plain cross-entropy, in place.

    In place, because Keras hands the same dict to the callbacks after this
    one (TensorBoard, the progress line): they show the same numbers.
    ``l2_penalty`` is the model's weight penalty at the epoch's end, read
    from its regularisation losses: the objective's surplus over the
    cross-entropy would count phase 2's label smoothing as penalty too.

    Args:
        logs: the epoch's Keras logs.
        model: the model trained (None: no ``l2_penalty``).

    Returns:
        ``logs``.
    """
    for prefix in ("", "val_"):
        plain = logs.pop(prefix + CROSS_ENTROPY, None)
        if plain is not None:
            logs[prefix + "loss"] = plain
    if model is not None and model.losses:
        logs[PENALTY] = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
    return logs


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: history, best and last checkpoints, ``state.json``, metadata.

    Args:
        instance: the :class:`vergeml.instances.Instance` being trained.
        state: the run's :class:`~vergeml.models.imagenet.training.run_state.RunState`
            (updated in place).
        phase: ``top`` or ``fine-tune``.
        patience: early stopping: epochs without a val_loss improvement of
            more than ``min_delta`` before the phase stops (0: off).
        min_delta: see ``patience``.
        seeded: models whose random generators belong to the run's random
            state besides the trained model (the augmenter).
        margin: ``best_acc -> tolerance``: how much lower val_acc may be and
            still beat a best epoch of the other phase (None: none).
        last_epoch: with it, only the phase's last epoch (this number, or the
            one early stopping ends on) may become the best: the fine-tune
            recipe's ``keep: last`` (None: every epoch may).
    """

    def __init__(self, instance, state, phase, patience=0, min_delta=0.0, seeded=(), margin=None,
                 last_epoch=None):
        super().__init__()
        self.instance, self.state, self.phase = instance, state, phase
        self.patience, self.min_delta = patience, min_delta
        self.seeded = tuple(seeded)
        self.margin = margin
        self.last_epoch = last_epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = plain_losses(logs if logs is not None else {}, self.model)
        row = {"epoch": epoch + 1, "phase": self.phase,
               **{k: _number(logs.get(k)) for k in METRICS}}
        state = self.state
        state.history.append(row)
        state.epochs_done, state.phase = epoch + 1, self.phase
        diverged = _diverged(logs)
        score = [row["val_acc"], -row["val_loss"]] if row["val_acc"] is not None and not diverged \
            else None
        if diverged:  # weights past a NaN are NaN: nothing later can be better
            state.diverged = epoch + 1
            self.model.stop_training = True
        else:
            self._early_stopping(row["val_loss"])
        improved = not diverged and self._candidate(epoch) and state.better(
            score, self.phase, self.margin(state.best[0]) if self.margin and state.best else 0.0)
        if improved:
            state.best, state.best_epoch, state.best_phase = score, epoch + 1, self.phase
        state.seeds = seed_states(self.model, *self.seeded)
        commit(self.instance.checkpoints_dir, state, self.model, self.model if improved else None)
        if improved and self.phase == "top":
            # top.weights.h5: the best top so far, for users and tools that load it directly.
            link_atomically(self.instance.checkpoints_dir / state.best_file,
                            self.instance.top_weights_path)
        record(self.instance, state)

    def _candidate(self, epoch):
        """Whether epoch ``epoch`` (0-based) may become the best: any, or only the phase's last."""
        return self.last_epoch is None or epoch + 1 >= self.last_epoch or \
            bool(getattr(self.model, "stop_training", False))

    def _early_stopping(self, val_loss):
        """Keras' EarlyStopping rule, with its counter kept in the run state."""
        if not self.patience or val_loss is None:
            return
        state = self.state
        if state.wait_best is None or val_loss < state.wait_best - self.min_delta:
            state.wait_best, state.wait = val_loss, 0
            return
        state.wait += 1
        if state.wait >= self.patience:
            self.model.stop_training = True
            state.stopped_early = True


def record(instance, state):
    """Make ``data.yaml`` and ``stats/history.csv`` describe ``state``.

    Called after every commit, and by a cancelled run with the state as
    committed on disk: a signal may land anywhere in an epoch's commit.

    Args:
        instance: the :class:`vergeml.instances.Instance`.
        state: a :class:`~vergeml.models.imagenet.training.run_state.RunState`.
    """
    best = next((row for row in state.history if row["epoch"] == state.best_epoch), {})
    results = instance.metadata.setdefault("results", {})
    for key in ("best_epoch", *METRICS):
        results.pop(key, None)  # an uncommitted best epoch's numbers must not stay behind
    values = {"epochs_done": state.epochs_done}
    if state.best_epoch:
        values["best_epoch"] = state.best_epoch
    values.update((k, best[k]) for k in METRICS if best.get(k) is not None)
    instance.metadata["history"] = list(state.history)
    instance.update_results(**values)
    write_history_csv(instance.history_path, state.history)


def write_history_csv(path, history):
    """``stats/history.csv``: one row per epoch of both phases."""
    lines = [",".join(HISTORY_COLUMNS)]
    for row in history:
        lines.append(",".join(_cell(row.get(c)) for c in HISTORY_COLUMNS))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _cell(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _number(value):
    """A log value as a float; None for a missing, NaN or infinite one."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _diverged(logs):
    """Whether the epoch's training or validation loss is NaN or infinite."""
    return any(logs.get(key) is not None and not math.isfinite(float(logs[key]))
               for key in ("loss", "val_loss", PENALTY))


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback without its batch hooks: scalars once per epoch.

    With ``update_freq="epoch"`` its batch hooks write nothing, but having
    them makes Keras convert every batch's logs to Python numbers and run the
    callbacks in step with training (no async dispatch): 3-5 ms a batch here,
    more than a step of the top itself.
    """

    on_train_batch_begin = keras.callbacks.Callback.on_train_batch_begin
    on_train_batch_end = keras.callbacks.Callback.on_train_batch_end


def tensorboard(instance):
    """The TensorBoard callback writing the run's scalars (both phases, one folder)."""
    return EpochTensorBoard(log_dir=str(instance.tensorboard_dir), write_graph=False)

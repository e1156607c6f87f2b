"""The Keras callback of ``ml train``: one checkpoint commit per epoch.

It keeps the one best-epoch rule of both phases (higher val_acc; on a tie,
lower val_loss; without validation the last epoch), early stopping whose
state survives a restart, the history, and the instance's metadata.
"""
import math
import shutil

import keras

from vergeml.fileutil import atomic_path, atomic_write_text
from vergeml.models.imagenet.run_state import commit, seed_states

HISTORY_COLUMNS = ("epoch", "phase", "acc", "loss", "val_acc", "val_loss")
METRICS = HISTORY_COLUMNS[2:]


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: history, best and last checkpoints, ``state.json``, metadata.

    Args:
        instance: the :class:`vergeml.instances.Instance` being trained.
        state: the run's :class:`~vergeml.models.imagenet.run_state.RunState`
            (updated in place).
        phase: ``top`` or ``fine-tune``.
        patience: early stopping: epochs without a val_loss improvement of
            more than ``min_delta`` before the phase stops (0: off).
        min_delta: see ``patience``.
        seeded: models whose random generators belong to the run's random
            state besides the trained model (the augmenter).
    """

    def __init__(self, instance, state, phase, patience=0, min_delta=0.0, seeded=()):
        super().__init__()
        self.instance, self.state, self.phase = instance, state, phase
        self.patience, self.min_delta = patience, min_delta
        self.seeded = tuple(seeded)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {"epoch": epoch + 1, "phase": self.phase,
               **{k: _number(logs.get(k)) for k in METRICS}}
        state = self.state
        state.history.append(row)
        state.epochs_done, state.phase = epoch + 1, self.phase
        score = [row["val_acc"], -row["val_loss"]] if row["val_acc"] is not None else None
        improved = state.better(score)
        if improved:
            state.best, state.best_epoch, state.best_phase = score, epoch + 1, self.phase
        self._early_stopping(row["val_loss"])
        state.seeds = seed_states(self.model, *self.seeded)
        commit(self.instance.checkpoints_dir, state, self.model, self.model if improved else None)
        if improved and self.phase == "top":
            # top.weights.h5: the best top so far, for users and tools that load it directly.
            copy_atomically(self.instance.checkpoints_dir / state.best_file,
                            self.instance.top_weights_path)
        self._record(row, improved)

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

    def _record(self, row, improved):
        instance = self.instance
        if improved:
            best = {k: row[k] for k in METRICS if row[k] is not None}
            instance.update_results(save=False, best_epoch=row["epoch"], **best)
        instance.metadata["history"] = list(self.state.history)
        instance.update_results(epochs_done=row["epoch"])
        write_history_csv(instance.history_path, self.state.history)


def copy_atomically(source, target):
    """Replace ``target`` with a copy of ``source`` (readers see the old or the new file)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


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
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


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

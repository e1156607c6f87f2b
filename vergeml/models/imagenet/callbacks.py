"""Keras callbacks of ``ml train``: best-epoch checkpoints and run metadata."""
import math

import keras

from vergeml.fileutil import atomic_path, atomic_write_text

HISTORY_COLUMNS = ("epoch", "acc", "loss", "val_acc", "val_loss")


class BestEpochCheckpoint(keras.callbacks.Callback):
    """Save the top's weights after an epoch only when validation improved.

    Better means higher val_acc; on a tie, lower val_loss. Without a
    validation split every epoch counts as better (the last one is kept).
    Each epoch also updates the instance's metadata and history atomically,
    so ``ml list`` shows progress and a crash loses at most one epoch.

    Args:
        instance: the :class:`vergeml.instances.Instance` being trained.
    """

    def __init__(self, instance):
        super().__init__()
        self.instance = instance
        self.history = []
        self.best = None  # (val_acc, -val_loss) of the best epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {"epoch": epoch + 1, **{k: _number(logs.get(k)) for k in HISTORY_COLUMNS[1:]}}
        self.history.append(row)
        score = (row["val_acc"], -row["val_loss"]) if row["val_acc"] is not None else None
        improved = score is None or self.best is None or score > self.best
        if improved:
            self.best = score
            with atomic_path(self.instance.top_weights_path) as tmp:
                self.model.save_weights(tmp)
            best_metrics = {k: row[k] for k in HISTORY_COLUMNS[1:] if row[k] is not None}
            self.instance.update_results(save=False, best_epoch=epoch + 1, **best_metrics)
        self.instance.metadata["history"] = list(self.history)
        self.instance.update_results(epochs_done=epoch + 1)
        self._write_history_csv()

    def restore_best(self, model):
        """Load the best epoch's weights back into ``model``."""
        if self.instance.top_weights_path.exists():
            model.load_weights(self.instance.top_weights_path)

    def _write_history_csv(self):
        lines = [",".join(HISTORY_COLUMNS)]
        for row in self.history:
            lines.append(",".join("" if row[c] is None else f"{row[c]:.6g}" if c != "epoch"
                                  else str(row[c]) for c in HISTORY_COLUMNS))
        atomic_write_text(self.instance.history_path, "\n".join(lines) + "\n")


def _number(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value

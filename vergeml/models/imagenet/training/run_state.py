"""What a run needs to continue after a crash: ``checkpoints/state.json``.

Every completed epoch writes, in this order:

1. ``last-<epoch>.weights.h5``: the weights of the model being trained with
   its optimizer state (Keras saves the optimizer of a compiled model);
2. ``best-<epoch>.weights.h5`` when the epoch is the best so far: a hard link
   to the last file, which holds exactly what it would (a copy where the file
   system has no hard links), so an improving epoch writes its weights once;
3. ``state.json`` (atomically), naming those two files, the epoch counter,
   the best score, the early-stopping counter, the random generators' states
   and the history;
4. the files ``state.json`` no longer names are deleted.

``state.json`` is the one commit point: a kill between two steps leaves the
previous state and its files intact, so a resumed run never sees a best
checkpoint from an epoch the state does not know, and the best checkpoint is
replaced only by a better epoch (keras-team/keras#17012 is about exactly
that going wrong with ``ModelCheckpoint`` and ``BackupAndRestore``).
"""
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vergeml.fileutil import atomic_path, atomic_save_weights, atomic_write_text

STATE_FILE = "state.json"
FORMAT = 1


@dataclass
class RunState:
    """The state of a run after its last completed epoch.

    Attributes:
        epochs_done: completed epochs over both phases.
        phase: ``top`` (phase 1, cached features) or ``fine-tune`` (phase 2, images).
        best: ``[val_acc, -val_loss]`` of the best epoch, or None.
        best_epoch: its number (1-based), or None.
        best_phase: the phase the best epoch belongs to.
        best_file: file name of its weights in ``checkpoints/``.
        last_file: file name of the last epoch's weights (with optimizer state).
        wait: epochs without improvement of val_loss (early stopping).
        wait_best: the lowest val_loss early stopping has seen.
        stopped_early: phase 1 ended early.
        diverged: the epoch whose loss became NaN or infinite (training stopped), or None.
        seeds: states of the models' random generators, by variable path.
        history: one dict per epoch.
    """

    epochs_done: int = 0
    phase: str = "top"
    best: list = None
    best_epoch: int = None
    best_phase: str = None
    best_file: str = None
    last_file: str = None
    wait: int = 0
    wait_best: float = None
    stopped_early: bool = False
    diverged: int = None
    seeds: dict = field(default_factory=dict)
    history: list = field(default_factory=list)

    def better(self, score, phase=None, margin=0.0):
        """Whether ``score`` (``(val_acc, -val_loss)`` or None) beats the best so far.

        Without validation every epoch counts as better, so the last is kept.

        Args:
            score: the epoch's ``[val_acc, -val_loss]``.
            phase: the epoch's phase.
            margin: how much lower ``val_acc`` may be and still win against a
                best epoch of the other phase (the fine-tune recipe's
                tolerance, :func:`.recipe.phase_margin`); 0 within a phase.
        """
        if score is None or self.best is None:
            return True
        best = list(self.best)
        if margin and self.best_phase not in (None, phase):
            best[0] -= margin
        return tuple(score) > tuple(best)


def load_state(folder):
    """The saved :class:`RunState` of a checkpoints folder, or None when there is none."""
    path = Path(folder) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    data.pop("format", None)
    return RunState(**data)


def commit(folder, state, last_model, best_model=None):
    """Write one epoch's checkpoint files, then ``state.json``, then delete stale files.

    Args:
        folder: the instance's ``checkpoints/`` folder.
        state: the :class:`RunState` after the epoch (its file names are set here).
        last_model: the model being trained (saved with its optimizer state).
        best_model: the model to save as the best checkpoint when this epoch is
            the best, else None; when it is ``last_model`` the best file is a
            link to the last one, not a second write of the same weights.
    """
    folder = Path(folder)
    epoch = state.epochs_done
    state.last_file = _save(last_model, folder / f"last-{epoch}.weights.h5")
    if best_model is last_model:
        state.best_file = link_atomically(folder / state.last_file, folder / f"best-{epoch}.weights.h5")
    elif best_model is not None:
        state.best_file = _save(best_model, folder / f"best-{epoch}.weights.h5")
    atomic_write_text(folder / STATE_FILE, json.dumps({"format": FORMAT, **asdict(state)}, indent=1))
    keep = {state.last_file, state.best_file}
    for stale in folder.glob("*.weights.h5"):
        if stale.name.startswith(("last-", "best-")) and stale.name not in keep:
            stale.unlink(missing_ok=True)


def _save(model, path):
    atomic_save_weights(model, path)
    return path.name


def link_atomically(source, target):
    """Make ``target`` a hard link to ``source`` (a copy where links fail), replacing it atomically.

    Checkpoint files are only ever replaced, never changed in place, so the
    two names can share their bytes: a 100-layer top's weights take seconds
    and gigabytes to write.

    Returns:
        The name of ``target``.
    """
    with atomic_path(target) as tmp:
        tmp.unlink()  # os.link will not replace the placeholder atomic_path made
        try:
            os.link(source, tmp)
        except OSError:  # a file system without hard links (some network and FUSE mounts)
            shutil.copyfile(source, tmp)
    return Path(target).name


def seed_states(*models):
    """States of every random generator in the models (Keras does not save them)."""
    return {key: variable.numpy().tolist() for key, variable in _seed_variables(models).items()}


def restore_seeds(states, *models):
    """Put generator states saved by :func:`seed_states` back."""
    for key, variable in _seed_variables(models).items():
        if key in states:
            variable.assign(states[key])


def _seed_variables(models):
    """``{"<layer name>/<attribute>": state variable}`` of every SeedGenerator.

    Keyed by layer name: the variables' own paths do not name their layer.
    """
    import keras
    found = {}
    for model in models:
        if model is None:
            continue
        for layer in _all_layers(model):
            for attribute, value in vars(layer).items():
                if isinstance(value, keras.random.SeedGenerator):
                    found[f"{layer.name}/{attribute}"] = value.state
    return found


def _all_layers(model):
    stack, seen = [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(getattr(layer, "layers", ()) or ())

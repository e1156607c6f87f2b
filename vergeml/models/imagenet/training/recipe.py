"""The fine-tune recipe: how phase 2 trains, chosen from the data.

``--fine-tune-epochs=auto`` asks for the whole recipe; a number of epochs
keeps the rest of it (the schedule, rates per depth, label smoothing and the
augmentation ``--augment=auto`` stands for) and fixes the budget. What is
chosen is stored with the run (``data.yaml``: ``fine_tune_recipe``), so a
resumed run trains on with the recipe it started with, whatever these
constants become; a run stored before recipes existed resumes with
:data:`LEGACY` (constant rate, no smoothing), as it started.

Pure Python: option checks and ``ml help`` read it without TensorFlow.
"""
import math
from dataclasses import asdict, dataclass, fields

from vergeml.models.imagenet.training.augment import AUTO_AUGMENT, LEGACY_AUGMENT

# A fine-tune epoch budget of about this many optimizer steps: short sets train
# more epochs, large ones fewer, within the bounds below.
BUDGET_STEPS = 150
MIN_EPOCHS, MAX_EPOCHS = 8, 30
# The first unfrozen layer learns at this fraction of the top's rate; the
# layers between follow a geometric ramp (discriminative rates, as fastai's).
DEPTH_DECAY = 0.1
LABEL_SMOOTHING = 0.1
WARMUP_EPOCHS = 1
# Phase 2 is kept unless phase 1 is better on validation by more than this many
# standard errors of its val_acc: a validation split of a few dozen images
# cannot tell the two apart more finely (see docs/train.md "Fine-tune recipe";
# two standard errors gained nothing on average and once kept a phase 2 8.5
# points worse on the test images).
TOLERANCE = 1.0
# Phase 2's images per step at most: a batch of 64 at 224 px takes TensorFlow
# about 0.3 GB more than 32 (activations kept for the backward pass), and small
# sets fine-tune as well or better on smaller batches (the Keras guide uses 32).
FINE_TUNE_BATCH = 32
# Below this many training images per class, only the later half of the
# backbone's blocks are unfrozen: fewer free weights for fewer examples.
ALL_BLOCKS_FROM = 50


@dataclass(frozen=True)
class Recipe:
    """How phase 2 trains.

    Args:
        epochs: the phase's epoch budget.
        blocks: fraction of the backbone's blocks unfrozen, from the top
            (1.0: all of them), used when ``fine-tune-layers`` is ``auto``.
        schedule: ``cosine`` (linear warm-up, then cosine decay to zero over
            the budget) or ``constant``.
        warmup_epochs: epochs of the warm-up (cosine only).
        depth_decay: rate of the first unfrozen layer as a fraction of the
            top's (1.0: one rate for all).
        label_smoothing: the target's mass spread evenly over all classes.
        augment: augmentation items used when ``augment`` is ``auto``.
        tolerance: phase 2's epoch (see ``keep``) replaces phase 1's best unless phase 1's
            val_acc is higher by more than this many standard errors of it
            (0: strictly the higher, the rule within a phase).
        batch_size: images per step of phase 2 (0: the run's ``batch-size``).
        keep: which epoch of phase 2 stands against phase 1's best: ``last``
            (the schedule's end, judged once, when the phase ends) or ``best``
            (each epoch that beats the best so far, the rule of phase 1; what
            runs stored before ``keep`` existed resume with).
    """

    epochs: int
    blocks: float = 1.0
    schedule: str = "cosine"
    warmup_epochs: int = WARMUP_EPOCHS
    depth_decay: float = DEPTH_DECAY
    label_smoothing: float = LABEL_SMOOTHING
    augment: tuple = AUTO_AUGMENT
    tolerance: float = TOLERANCE
    batch_size: int = 0
    keep: str = "best"

    def to_dict(self):
        """The recipe as stored in ``data.yaml`` (lists, not tuples)."""
        return {**asdict(self), "augment": list(self.augment)}

    @classmethod
    def from_dict(cls, stored):
        """The recipe a run stored (unknown keys ignored, missing ones default)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (stored or {}).items() if k in known}
        if "augment" in values:
            values["augment"] = tuple(values["augment"])
        return cls(**values)

    def describe(self):
        """One line for the console, e.g. ``cosine schedule with 1 warm-up epoch, ...``."""
        parts = [f"{self.schedule} schedule" + (f" after {self.warmup_epochs} warm-up epoch(s)"
                                                if self.schedule == "cosine" and self.warmup_epochs
                                                else "")]
        if self.depth_decay != 1.0:
            parts.append(f"rates {self.depth_decay:g}x to 1x by depth")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.batch_size:
            parts.append(f"batches of {self.batch_size}")
        if self.keep == "last":
            parts.append("the last epoch judged against phase 1's best")
        return ", ".join(parts)


# Phase 2 as it was before recipes: what a run stored without one resumes with.
LEGACY = Recipe(epochs=0, schedule="constant", warmup_epochs=0, depth_decay=1.0,
                label_smoothing=0.0, augment=LEGACY_AUGMENT, tolerance=0.0)


def choose_recipe(train_count, num_classes, batch_size, epochs="auto"):
    """The recipe for a training split of ``train_count`` images.

    Args:
        train_count: images in the training split.
        num_classes: classes of the data set.
        batch_size: the run's images per step (phase 2 takes at most
            :data:`FINE_TUNE_BATCH` of them).
        epochs: ``auto`` to choose the budget, or the number typed.

    Returns:
        A :class:`Recipe`.
    """
    per_class = train_count / max(1, num_classes)
    batch = min(batch_size, FINE_TUNE_BATCH)
    return Recipe(epochs=auto_epochs(train_count, batch) if epochs == "auto" else int(epochs),
                  blocks=1.0 if per_class >= ALL_BLOCKS_FROM else 0.5, batch_size=batch, keep="last")


def auto_epochs(train_count, batch_size):
    """About :data:`BUDGET_STEPS` optimizer steps, as whole epochs within the bounds."""
    steps = max(1, math.ceil(train_count / max(1, batch_size)))
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(BUDGET_STEPS / steps))))


def depth_rates(count, decay):
    """Rate multipliers of ``count`` unfrozen layers, first (deepest from the top) to last.

    Geometric from ``decay`` to 1.0, so each layer's rate is a fixed ratio of
    the next one's; the top (not counted here) learns at 1.0.

    Returns:
        list of ``count`` floats.
    """
    if count <= 1:
        return [1.0] * count
    return [decay ** ((count - 1 - i) / (count - 1)) for i in range(count)]


def block_of(name):
    """The block a backbone layer belongs to: the first number in its name.

    ``conv_dw_5`` and ``conv_pw_5`` (MobileNet) share block 5; ``conv4_block3_1_conv``
    (ResNet) is in stage 4; a layer whose name holds no number is a block of its own.
    """
    digits = ""
    for char in name:
        if char.isdigit():
            digits += char
        elif digits:
            break
    return digits or name


def whole_blocks(names, fraction):
    """How many of the last layers to unfreeze so that whole blocks are unfrozen.

    Args:
        names: the names of the layers that can be unfrozen, input to output.
        fraction: of the blocks (1.0: all layers).

    Returns:
        The number of layers, counted from the end.
    """
    order = []
    for name in names:
        block = block_of(name)
        if not order or order[-1] != block:
            order.append(block)
    keep = max(1, math.ceil(len(order) * fraction))
    chosen = set(order[-keep:])
    count = 0
    for name in reversed(names):
        if block_of(name) not in chosen:
            break
        count += 1
    return count


def phase_margin(tolerance, val_count):
    """``best_acc -> margin``: ``tolerance`` standard errors of an accuracy measured on
    ``val_count`` images (binomial), or None when there is no tolerance."""
    if not tolerance or not val_count:
        return None
    return lambda best_acc: tolerance * math.sqrt(best_acc * (1.0 - best_acc) / val_count)

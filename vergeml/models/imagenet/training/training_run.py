"""A run's phases, from wherever its state stands to the saved model.

Phase 1 trains the top on cached features (:mod:`.head`); phase 2, when
``fine-tune-epochs`` is set, fine-tunes backbone and top on images
(:mod:`.fine_tune`). One best-epoch rule spans both. A new run and a resumed
run (:mod:`.resume`) go through the same :class:`Run`; only the starting
:class:`~vergeml.models.imagenet.training.run_state.RunState` differs.
"""
import sys
import time
from contextlib import contextmanager

from vergeml.fileutil import atomic_path, atomic_save_weights, atomic_write_text

FROZEN, FINE_TUNED = "frozen", "fine-tuned"


class Run:
    """One training run of the imagenet model.

    Args:
        instance: the :class:`vergeml.instances.Instance`.
        state: its :class:`~vergeml.models.imagenet.training.run_state.RunState`.
        args: the train options (canonical names).
        seed: the random seed.
        dataset: the :class:`vergeml.data.Dataset`.
        extractor: the :class:`~vergeml.models.imagenet.extraction.features.FeatureExtractor`.
        features: split -> ``(x, y)`` cached features.
    """

    def __init__(self, instance, state, args, seed, dataset, extractor, features):
        self.instance, self.state, self.args, self.seed = instance, state, args, seed
        self.dataset, self.extractor, self.features = dataset, extractor, features
        from vergeml.models.imagenet.training.head import build_top
        self.top = build_top(features["train"][0].shape[1], len(dataset.labels), args["layers"],
                             args["dropout"], seed, l2=args["l2"])
        self.full = None
        self._frozen = None  # the backbone's own weights, kept while phase 2 changes them

    def train(self):
        """Run what is left of both phases, then test and save. Returns the test results."""
        from vergeml.models.imagenet.training.fine_tune import fine_tune
        from vergeml.models.imagenet.training.head import fit_top
        state, args = self.state, self.args
        if not len(self.features["val"][0]):  # only with --val-split=0: the last epoch is kept
            self.instance.update_results(save=False, selection="last-epoch (no validation split)")
        self.instance.update_results(tuned=FINE_TUNED if args.get("fine-tune-epochs") else FROZEN)
        if state.phase == "top" and state.epochs_done < args["epochs"] and not state.stopped_early \
                and not state.diverged:
            _header(1, self._phases(), f"training the top on cached features, {args['epochs']} epochs")
            with self._timed("top_seconds"):
                fit_top(self.top, self.features, args, self.instance, state, self.seed)
        elif state.phase == "top" and state.best_file:
            self.top.load_weights(self.instance.checkpoints_dir / state.best_file)
        if args.get("fine-tune-epochs") and not state.diverged:
            if state.phase == "top":  # phase 2 starts: its early stopping starts afresh
                state.wait, state.wait_best = 0, None
            self._frozen = self.extractor.model.get_weights()
            _header(2, 2, f"fine-tuning on images, {args['fine-tune-epochs']} epochs")
            with self._timed("fine_tune_seconds"):
                self.full = fine_tune(self.top, self.extractor, self.dataset, args, self.instance,
                                      state, self.seed)
        if state.diverged:
            self._stop_diverged()
        return self.finish()

    @contextmanager
    def _timed(self, key):
        """Add the wall time of the block to ``results[key]`` (a resumed run adds to
        what it stored), even when the block stops early."""
        started = time.monotonic()
        try:
            yield
        finally:
            done = self.instance.metadata.get("results", {}).get(key) or 0.0
            self.instance.update_results(save=False, **{key: round(done + time.monotonic() - started, 2)})

    def _stop_diverged(self):
        """The loss became NaN or infinite: say so in one line; keep the best
        earlier epoch, or fail the run when there is none.

        Raises:
            RunFailed: no epoch before the divergence to keep.
        """
        from vergeml.console import warn
        from vergeml.errors import RunFailed
        state = self.state
        row = next((r for r in state.history if r["epoch"] == state.diverged), {})
        option = "--fine-tune-learning-rate" if row.get("phase") == "fine-tune" else "--learning-rate"
        message = f"loss became NaN or infinite at epoch {state.diverged}; lower {option}"
        self.instance.update_results(save=False, diverged_epoch=state.diverged)
        if not state.best_file:
            raise RunFailed(f"{message} (no earlier epoch to keep)",
                            hint="A smaller learning rate, or fewer layers, keeps training stable.")
        warn(f"{message} (keeping epoch {state.best_epoch})")

    def _phases(self):
        return 2 if self.args.get("fine-tune-epochs") else 1

    def best_model(self):
        """The fused model at the best epoch of either phase."""
        state, folder = self.state, self.instance.checkpoints_dir
        if state.best_phase == "fine-tune":
            model = self.full or self.extractor.full_model(self.top)
            model.load_weights(folder / state.best_file)
            return model
        if self._frozen is not None:  # phase 2 changed the backbone: put the original back
            self.extractor.model.set_weights(self._frozen)
        if state.best_file:
            self.top.load_weights(folder / state.best_file)
        return self.extractor.full_model(self.top)

    def final_model(self):
        """The best epoch's fused model as it is saved: with ``class-weights``
        ``adjusted``, its outputs corrected for the class frequencies of the
        training split (:func:`.class_weights.adjust_outputs`, recorded in the results)."""
        from vergeml.models.imagenet.training.class_weights import ADJUSTED, adjust_outputs
        model = self.best_model()
        if self.args.get("class-weights") == ADJUSTED:
            import numpy as np
            labels = self.dataset.labels
            counts = np.bincount(np.asarray(self.features["train"][1], dtype=int), minlength=len(labels))
            shift = adjust_outputs(model, counts.tolist())
            self.instance.update_results(save=False, output_adjustment={
                labels[i]: round(value, 6) for i, value in shift.items()})
        return model

    def finish(self):
        """Calibrate and fit unknown rejection, test the best epoch, save model, labels,
        predictions; mark finished."""
        from vergeml.models.imagenet.training.evaluation import save_predictions, test_metrics
        from vergeml.models.imagenet.training.rejection_fit import fit_rejection
        model = self.final_model()
        self._calibrate(model)
        rejection = fit_rejection(self, model)
        y_test = self.features["test"][1]
        results = {}
        if len(y_test):
            probabilities = self._probabilities(model, "test")
            labels = self.dataset.labels
            results = test_metrics(y_test, probabilities, len(labels), labels=labels)
            save_predictions(self.instance, y_test, probabilities, self.dataset.samples("test"), labels)
        self.save(model)
        self.instance.update_results(**results, **rejection)
        self.instance.set_status("finished")
        _print_summary(self.instance, results)
        return results

    def _calibrate(self, model):
        """Temperature scaling fitted on the validation split, kept when it lowers the
        validation NLL (:mod:`vergeml.trust.calibration`); recorded in the results."""
        from vergeml.models.imagenet.training.output_layer import divide_logits
        from vergeml.trust.calibration import fit_temperature
        y_val = self.features["val"][1]
        if not len(y_val):
            return
        temperature, before, after = fit_temperature(self._probabilities(model, "val"), y_val)
        if before is None:
            return
        if temperature:
            divide_logits(model, temperature)
            print(f"Calibration: temperature {temperature:.3g} "
                  f"(validation NLL {before:.3f} -> {after:.3f})")
        self.instance.update_results(save=False, temperature=round(temperature or 1.0, 4))

    def _probabilities(self, model, split):
        """Class probabilities of a split under the best epoch's fused ``model``; with
        ``--tta`` the mean over each image's views (:mod:`vergeml.models.imagenet.tta`),
        through the images even for a frozen run, whose cached features are of the plain
        images only."""
        tta = bool(self.args.get("tta"))
        if not tta and self.state.best_phase != "fine-tune":
            return self.top.predict(self.features[split][0], verbose=0)  # same as the fused model
        from vergeml.models.imagenet.training.image_arrays import split_images, predict_images
        images, _ = split_images(self.dataset, split, self.extractor.size, self.args["resize"])
        return predict_images(model, self.extractor, images, tta=tta)

    def save(self, model):
        """Write labels.txt, the best top's weights and the full model as model.keras."""
        instance = self.instance
        atomic_write_text(instance.labels_path, "\n".join(self.dataset.labels) + "\n")
        top = model.get_layer("top")
        atomic_save_weights(top, instance.top_weights_path)
        with atomic_path(instance.model_path) as tmp:
            _uncompiled(model).save(tmp)

    def cancel(self):
        """Ctrl-C or SIGTERM: make the best checkpoint so far usable, mark cancelled.

        Everything is taken from the state as committed on disk, not the one in
        memory: the signal may have landed in the middle of an epoch's commit,
        after the state in memory moved on but before ``state.json`` did.
        """
        from vergeml.models.imagenet.training.callbacks import record
        from vergeml.models.imagenet.training.run_state import RunState, load_state
        print("\nCancelled: keeping the best checkpoint so far.", file=sys.stderr)
        try:
            self.state = load_state(self.instance.checkpoints_dir) or RunState()
            if self.state.best_file:
                self.save(self.final_model())
        finally:
            record(self.instance, self.state)
            self.instance.set_status("cancelled")


def _uncompiled(model):
    """The same layers as a model with no optimizer or loss: phase 2's (rates by depth,
    smoothed loss) are this package's classes, and ``model.keras`` must load in plain
    Keras, with no custom objects."""
    import keras
    if getattr(model, "optimizer", None) is None:
        return model
    return keras.Model(model.inputs, model.outputs, name=model.name)


def _header(number, total, text):
    if total > 1:
        print(f"Phase {number}/{total}: {text}", flush=True)


def _print_summary(instance, results):
    done = instance.results.get("epochs_done")
    best = instance.results.get("best_epoch")
    print(f"\nFinished @{instance.name}: best epoch {best} of {done}")
    if results:
        print(f"  test_acc {results['test_acc']:.3f}  test_loss {results['test_loss']:.3f}"
              + (f"  auc {results['auc']:.3f}" if "auc" in results else "")
              + (f"  ece {results['test_ece']:.3f}" if "test_ece" in results else ""))
    print(f"  saved in {instance.path}")


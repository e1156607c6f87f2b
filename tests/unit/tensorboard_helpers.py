"""Shared by the TensorBoard tests (no tests here): instance folders and environments."""
import yaml

from vergeml.settings.environment import Environment


def make_run(trainings, name, scalars=True):
    """An instance folder; with ``scalars``, TensorBoard events written by tf.summary."""
    folder = trainings / name
    (folder / "tensorboard").mkdir(parents=True)
    (folder / "data.yaml").write_text(yaml.safe_dump({"name": name, "model": "imagenet",
                                                      "status": "finished"}))
    if scalars:
        import tensorflow as tf
        writer = tf.summary.create_file_writer(str(folder / "tensorboard" / "train"))
        with writer.as_default():
            for step, loss in enumerate([0.9, 0.5, 0.3]):
                tf.summary.scalar("epoch_loss", loss, step=step)
        writer.close()
    return folder


def environment(root, *names):
    return Environment(root, settings={"trainings-dir": "trainings"}, instance_names=list(names),
                       subcommand="tensorboard")

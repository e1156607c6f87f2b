"""Shared by the instance tests (no tests here): a new instance and its stored metadata."""
import yaml

from vergeml.instances import create_instance

HP = {"architecture": "mobilenet", "batch-size": 64, "learning_rate": 0.0001}


def new(tmp_path, **kw):
    return create_instance(tmp_path / "trainings", "imagenet", "mobilenet", HP, **kw)


def stored(instance):
    return yaml.safe_load(instance.metadata_path.read_text())

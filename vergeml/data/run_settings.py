"""The data settings a run is started with, stored so that a resumed run
rebuilds exactly the same data set.

A run's data is decided by a few global options (:data:`DATA_SETTINGS`) and
the project file's ``data:`` section (input, preprocessing, cache mode).
:func:`stored_settings` is what a new run keeps in ``data.yaml``;
:func:`run_environment` gives ``ml @name resume`` an
:class:`~vergeml.settings.environment.Environment` with those values back in place, whatever
the project file or the command line now say; :func:`typed_conflicts` names
a data setting typed on the resume command line that the run does not have.
"""
from vergeml.settings.project_settings import ProjectFile
from vergeml.data.split import parse_split
from vergeml.settings.environment import Environment
from vergeml.errors import VergeMLError
from vergeml.settings.spelling import canonical, stored_key

# The global options that decide which samples a run has and how they are split.
DATA_SETTINGS = ("random-seed", "val-split", "test-split", "samples-dir", "cache")
SPLIT_SETTINGS = ("val-split", "test-split")


def stored_settings(env):
    """The data settings of a new run, for ``data.yaml``'s ``data`` entry.

    Returns:
        ``{"settings": {samples_dir: ..., val_split: ..., ...}, "section": {...}}``:
        the global options as resolved (stored keys) and the ``data:`` section.
    """
    settings = {stored_key(name): env.settings.get(name) for name in DATA_SETTINGS}
    return {"settings": settings, "section": env.data_config}


def run_environment(env, data):
    """``env`` with a run's stored data settings in place.

    Args:
        env: the environment of the resume command.
        data: the run's ``data`` entry of ``data.yaml``. A run stored before
            its settings were kept has only ``random_seed``: the rest come
            from ``env``.

    Returns:
        A new :class:`~vergeml.settings.environment.Environment`.
    """
    stored = {canonical(k): v for k, v in (data.get("settings") or {}).items()}
    if "random_seed" in data:
        stored.setdefault("random-seed", data["random_seed"])
    settings = {**env.settings, **{k: v for k, v in stored.items() if k in DATA_SETTINGS}}
    project = env.project
    if isinstance(data.get("section"), dict):
        project = ProjectFile(path=env.project.path, data={**env.project.data, "data": data["section"]},
                              lines=env.project.lines)
    run_env = Environment(env.project_dir, project, settings, env.instance_names,
                          subcommand=env.subcommand, model_name=env.model_name)
    run_env.command_line = dict(env.command_line)
    return run_env


def typed_conflicts(env, run_env):
    """Data settings typed on the command line that differ from the run's.

    Args:
        env: the environment of the resume command (what was typed).
        run_env: :func:`run_environment` of the run.

    Returns:
        list of phrases such as ``--random-seed 3 (the run has 2)``.
    """
    conflicts = []
    for name in DATA_SETTINGS:
        if name not in env.command_line:
            continue
        typed, own = env.command_line[name], run_env.settings.get(name)
        if not _same_setting(name, typed, own, env.project_dir):
            conflicts.append(f"--{name} {typed} (the run has {own})")
    return conflicts


def _same_setting(name, typed, own, project_dir):
    if name in SPLIT_SETTINGS:
        try:
            return parse_split(typed, name, project_dir).config() == \
                parse_split(own, name, project_dir).config()
        except VergeMLError:  # a setting that does not parse is not the run's
            return False
    if name == "samples-dir":  # ./samples and samples are the same folder
        return (project_dir / str(typed)).resolve() == (project_dir / str(own)).resolve()
    return str(typed) == str(own)

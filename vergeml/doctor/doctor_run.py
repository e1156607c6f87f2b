"""``ml doctor``'s run: gather the samples and their features, analyse, report.

The samples come from :func:`vergeml.data.load_dataset` (the splits ``ml train``
uses) and the features from the feature cache ``ml train`` fills
(:func:`~vergeml.models.imagenet.extraction.feature_cache.sample_features`: only
what is missing is extracted, with a progress bar), so after a train the audit
costs seconds. ``--apply`` and ``--undo`` need neither and import no TensorFlow.
"""
import os
import sys
from pathlib import Path

from vergeml.doctor.findings import KINDS, ordered
from vergeml.errors import UsageError

# The kinds whose analysis reads backbone features (the others need none).
FEATURE_KINDS = ("label", "conflict", "leak", "duplicate", "outlier")
SPLITS = ("train", "val", "test")


def doctor(args, env, backbone=()):
    """Run ``ml doctor``: the audit, or ``--apply`` / ``--undo``.

    Args:
        args: the resolved doctor options.
        env: the :class:`vergeml.settings.environment.Environment`.
        backbone: names of the backbone options among ``args`` (their defaults
            come from the project's ``train:`` section).

    Returns:
        The exit status: 0, findings or not.
    """
    _check_modes(args)
    _require_project(env)
    if args.get("undo"):
        from vergeml.doctor.journal import undo
        print(f"Put back {undo(env.project_dir)} file(s); the samples are as before the apply.")
        return 0
    if args.get("apply"):
        return apply_review(env, args["apply"])
    kinds = parse_kinds(args.get("kinds"))
    values = backbone_settings(args, env, backbone)
    data = gather(env, values, need_features=any(k in FEATURE_KINDS for k in kinds))
    findings = ordered(analyse(data, kinds, env.random_seed))
    _report(findings, data, kinds, args, env)
    if args.get("review"):
        from vergeml.doctor.review import write_review
        rows = write_review(args["review"], findings)
        print(f"Wrote {rows} row(s) to {args['review']}: set the action column (keep, remove, "
              f"relabel:<label>), then run ml doctor --apply={args['review']}; ml ui shows the "
              f"findings with the images{_ui_option(env, args['review'])}")
    return 0


def _ui_option(env, review):
    """`` (--review=FILE)`` when ``ml ui`` would not find the review file by itself."""
    from vergeml.doctor.review import DEFAULT_PATH
    default = os.path.join(os.path.abspath(env.project_dir), DEFAULT_PATH)
    return "" if os.path.abspath(review) == default else f" (ml ui --review={review})"


def _check_modes(args):
    """--review, --apply and --undo each ask for something else: one at a time."""
    given = [f"--{name}" for name in ("review", "apply", "undo") if args.get(name)]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} cannot be combined: give one of them",
                         hint="See 'ml help doctor'.")


def _require_project(env):
    """A one-line error outside a project (no vergeml.yaml and no samples folder)."""
    if env.project.path is None and not env.samples_dir.is_dir():
        raise UsageError(f"not in a project: no vergeml.yaml in {env.project_dir} or a folder "
                         "above it, and no samples folder",
                         hint="Run ml doctor inside a project (ml new <dir> makes one).")


def parse_kinds(values):
    """The kinds asked for by ``--kinds`` (all when not given), in :data:`KINDS` order.

    Args:
        values: a list of names; plurals (``duplicates``) are accepted.

    Raises:
        UsageError: an unknown kind, with a suggestion.
    """
    from vergeml.settings.suggest import suggestion
    if not values or [v.lower() for v in values] == ["all"]:
        return KINDS
    asked = set()
    for value in values:
        name = value.strip().lower()
        name = name[:-1] if name not in KINDS and name[:-1] in KINDS else name
        if name not in KINDS:
            raise UsageError(f"--kinds: unknown kind {value!r}.{suggestion(name, list(KINDS))}",
                             hint=f"Kinds: {', '.join(KINDS)}.")
        asked.add(name)
    return tuple(k for k in KINDS if k in asked)


def backbone_settings(args, env, names):
    """The backbone options: the command line or ``doctor:`` section, else ``train:``, else
    the defaults; so the doctor reads the features ``ml train`` cached.

    Raises:
        ConfigError: a bad value in ``train:``, or options that cannot work together.
    """
    from vergeml.console import warn
    from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
    from vergeml.models.imagenet.training.run_checks import DEFAULTS, check_run
    from vergeml.settings.option_set import OptionSet
    options = OptionSet(o for o in TRAIN_OPTIONS if o.name in names)
    own = {options.get(str(k)).name for k in env.project.section("doctor") or {}
           if options.get(str(k)) is not None} | {k for k in env.command_line if k in options}
    section = {}
    for key, value in (env.project.section("train") or {}).items():
        option = options.get(str(key))
        if option is None or option.name in own:
            continue
        if isinstance(value, list) and option.type != "list" and value:  # a grid of runs
            warn(f"train: {key} is a grid ({', '.join(map(str, value))}): ml doctor uses "
                 f"{value[0]}; give --{option.name} to choose another")
            value = value[0]
        section[key] = value
    values = options.resolve({}, section, where="train", lines=env.project.lines)
    values.update({name: args[name] for name in own})
    check_run({**DEFAULTS, **values})
    return values


def gather(env, values, need_features=True):
    """The project's samples as :class:`~vergeml.doctor.audit_data.AuditData`.

    Unreadable files are kept aside (``bad_files``) for the quality findings;
    augmentation copies are left out (one row per file).

    Args:
        env: the environment.
        values: the backbone options (see :func:`backbone_settings`).
        need_features: extract features; without, ``features`` has 0 columns.

    Raises:
        UsageError: the samples have no labels.
    """
    import numpy as np
    from vergeml.data import load_dataset
    from vergeml.doctor.audit_data import AuditData
    _require_labels(env)
    dataset = load_dataset(env, skip_bad=True)
    samples = [s for split in SPLITS for s in dataset.samples(split) if s.variant == 0]
    if need_features:
        features = _features(dataset, samples, values, env)
    else:
        features = np.zeros((len(samples), 0), "float32")
    return AuditData(files=[_relative(env, s.file) for s in samples],
                     labels=np.array([s.label_index for s in samples], dtype="int64"),
                     label_names=list(dataset.labels), splits=[s.split for s in samples],
                     digests=[s.digest for s in samples], features=features,
                     paths=[s.file for s in samples],
                     bad_files=[(_bad_relative(env, rel), why) for rel, why in dataset.bad_files])


def _require_labels(env):
    """The doctor judges labels: a source without them is a usage error."""
    from vergeml.data.data_section import parse_data_config
    source = parse_data_config(env.data_config, env.project.lines).source
    if not source.labeled:
        raise UsageError(f"ml doctor needs labeled samples, and data.input is {source.name} "
                         "(no labels)", hint="Use the labeled-image source: samples/<class>/*.jpg.")
    return source


def _features(dataset, samples, values, env):
    """``float32 (n, d)`` features of ``samples`` through the shared feature cache."""
    import numpy as np
    from vergeml.models.imagenet.extraction.feature_cache import sample_features
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    extractor = FeatureExtractor.from_options(values, env.random_seed, env.cache_dir)
    with dataset.open_cache() as cache:
        vectors = sample_features(dataset, extractor, samples, values["resize"], cache,
                                  settings=env.settings)
    if not samples:
        return np.zeros((0, extractor.dim), "float32")
    return np.stack([vectors[s.key] for s in samples]).astype("float32", copy=False)


def _samples_shown(env):
    """The samples folder as the user names it: under the project, links not followed."""
    return os.path.normpath(os.path.join(os.path.abspath(env.project_dir), env.settings["samples-dir"]))


def _relative(env, path):
    """A sample's path relative to the project folder (``samples/ants/x.jpg``), posix.

    The samples folder may be a symbolic link: its files are named through it.
    """
    project = os.path.abspath(env.project_dir)
    try:
        inside = Path(path).relative_to(env.samples_dir)
        return Path(os.path.relpath(os.path.join(_samples_shown(env), inside), project)).as_posix()
    except ValueError:
        pass
    for base in (project, os.path.realpath(project)):
        if Path(path).is_relative_to(base):
            return Path(os.path.relpath(path, base)).as_posix()
    return Path(path).as_posix()


def _bad_relative(env, relpath):
    """An unreadable file's name (relative to the samples folder, or a split folder's)
    relative to the project folder."""
    in_samples = env.samples_dir / relpath
    if in_samples.exists():
        return _relative(env, str(in_samples))
    return _relative(env, os.path.join(os.path.abspath(env.project_dir), relpath))


def analyse(data, kinds, seed):
    """The findings of ``kinds`` (any order) on ``data``.

    Each analysis runs once, for the kinds it yields that were asked for.
    """
    found = []
    if "label" in kinds:
        from vergeml.doctor.label_issues import find_label_issues
        found += find_label_issues(data, seed=seed)
    if {"conflict", "leak", "duplicate"} & set(kinds):
        from vergeml.doctor.duplicates import find_duplicates
        found += [f for f in find_duplicates(data) if f.kind in kinds]
    if "outlier" in kinds:
        from vergeml.doctor.outliers import find_outliers
        found += find_outliers(data)
    if "quality" in kinds:
        from vergeml.doctor.quality import find_quality_issues
        found += find_quality_issues(data, bad_files=data.bad_files)
    if "imbalance" in kinds:
        from vergeml.doctor.imbalance import find_imbalance
        found += find_imbalance(data)
    return found


def _report(findings, data, kinds, args, env):
    """Print the findings and the summary, and write the contact sheets.

    The table goes to stdout with the summary; json and csv go to stdout alone
    (the summary and the sheets' paths to stderr), so they can be piped.
    """
    from vergeml.doctor import report
    from vergeml.doctor.contact_sheet import write_sheets
    limit, output = args.get("limit"), args.get("format") or "table"
    if output == "table":
        text = report.render_table(findings, report.DEFAULT_LIMIT if limit is None else limit)
    else:
        text = (report.render_json if output == "json" else report.render_csv)(findings, limit)
    if text:
        print(text + ("\n" if output == "table" else ""))
    paths = {f: p for f, p in zip(data.files, data.paths)}
    sheets = write_sheets(env.project_dir, findings, kinds,
                          report.DEFAULT_LIMIT if limit is None else limit,
                          open_image=_opener(env, paths))
    side = sys.stdout if output == "table" else sys.stderr
    print(report.summary_line(findings, kinds, len(data) + len(data.bad_files)), file=side)
    lines = report.sheet_lines([_shown_path(p) for p in sheets])
    if lines:
        print(lines, file=side)


def _opener(env, paths):
    """``relpath -> PIL.Image`` for the contact sheets: the sample's own path when known."""
    from vergeml.data.images import load_image
    from vergeml.doctor.contact_sheet import TILE

    def open_image(relpath):
        path = paths.get(relpath) or os.path.join(os.path.abspath(env.project_dir), relpath)
        return load_image(path, draft=(TILE, TILE))
    return open_image


def _shown_path(path):
    """``path`` relative to the current folder when inside it (what a user can open)."""
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def apply_review(env, path):
    """``--apply=FILE``: check every row, then move the files (journal first).

    Raises:
        UsageError: a bad review file (naming the row); nothing moved.
    """
    _require_labels(env)
    journal, count, relabelled = apply_file(env.project_dir, env.samples_dir, path)
    if not count:
        print(f"Nothing to apply: every row of {path} says keep.")
        return 0
    print(f"Moved {count} file(s): {relabelled} relabelled, {count - relabelled} into removed/. "
          f"Journal: {_shown_path(str(journal))}; ml doctor --undo puts them back.")
    return 0


def apply_file(project_dir, samples_dir, path):
    """Apply a review file: every row checked, then the moves, journal first (``--apply``
    and ``ml ui``'s data page).

    Args:
        project_dir: the project folder.
        samples_dir: its samples folder.
        path: the review CSV.

    Returns:
        ``(journal path or None, files moved, of which relabelled)``.

    Raises:
        UsageError: no samples folder, or a bad review file (naming the row); nothing moved.
    """
    from vergeml.doctor.journal import apply_moves
    from vergeml.doctor.review import read_review
    labels = class_names(samples_dir)
    moves = read_review(path, project_dir, samples_dir, labels)
    journal, count = apply_moves(project_dir, samples_dir, moves)
    return journal, count, sum(m.action == "relabel" for m in moves) if count else 0


def class_names(samples_dir):
    """The class folders of a samples folder, sorted.

    Raises:
        UsageError: the folder does not exist.
    """
    if not os.path.isdir(samples_dir):
        raise UsageError(f"samples directory not found: {samples_dir}")
    return sorted(e.name for e in os.scandir(samples_dir)
                  if e.is_dir() and not e.name.startswith("."))

"""Property-based fuzz of ``vergeml.yaml`` (hypothesis): valid-ish mappings with wrong
types, unknown and misspelled keys, wrong nested shapes, huge/negative/NaN/inf numbers and
unicode; empty files, YAML that is a list or a scalar, duplicate keys, tabs, non-UTF-8 bytes
and broken syntax. Every case exits 0, 1 or 2 with no traceback, within seconds, and a
non-zero exit's message names the file, a key or a value of it.

The cases run as in ``test_fuzz_cli`` (see its docstring): in-process through
``vergeml.cli.main.main`` in a fresh project with an empty ``samples/`` folder, so ``train``
and ``preprocess`` validate everything for real and stop before any work; tripwires on
``vergeml.runtimes.tensorflow_setup.load`` and the model's predictor; a sample through the real ``ml``.
``@seed(SEED)``, ``VERGEML_FUZZ_SEED`` to change it; a failure prints the seed and the file.
"""
import pytest
import yaml
from hypothesis import example, given, seed
from hypothesis import strategies as st

from tests.reliability import fuzz_strategies as fz

FILES = 300  # the general fuzz
BROKEN = 60  # files that must be refused
REAL = 15  # through the real ml

# What runs on each file: validation of every section the commands read.
COMMANDS = (["train"], ["preprocess"], ["list"], ["help"], ["help", "train"],
            [f"@{fz.INSTANCE}", "predict", "cat.jpg"], ["new", "other"])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The :class:`~tests.reliability.fuzz_strategies.Harness` of this module."""
    with fz.harness(tmp_path_factory.mktemp("fuzz-yaml")) as harness:
        yield harness


def fragments(content):
    """What a message about ``content`` may name: the file, and its keys and values."""
    if content.count(b"[") + content.count(b"{") > 100:  # PyYAML's scanner is quadratic in the depth
        return {"vergeml.yaml"}
    try:
        parsed = yaml.load(content.decode("utf-8"), Loader=fz.LOADER)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
        parsed = None
    return {"vergeml.yaml"} | fz.fragments_of_data(parsed)


@fz.fuzz_settings(FILES)
@seed(fz.SEED)
@given(content=fz.project_files(), argv=st.sampled_from(COMMANDS))
# Found by the fuzz; each failed before its fix:
@example(content=b"\xff\xfem\x00o\x00d\x00e\x00l\x00", argv=["train"])  # UnicodeDecodeError
@example(content=b"model: imag\xe9net\n", argv=["list"])  # the same, latin-1
@example(content=b"[" * 10000 + b"]" * 10000, argv=["train"])  # RecursionError, after a minute
@example(content=b"samples-dir: null\n", argv=["train"])  # TypeError: Path / None
@example(content=b"trainings-dir:\n", argv=["list"])  # the same, for ml list
@example(content=b"train:\n  epochs: " + b"9" * 5000 + b"\n", argv=["train"])  # int digit limit
@example(content=b"train:\n  alpha: " + b"9" * 400 + b"\n", argv=["train"])  # OverflowError
@example(content=b"a: 2020-13-45\n", argv=["list"])  # ValueError: month must be in 1..12
@example(content=fz.billion_laughs(9, 9), argv=["train"])  # 387 million aliased items walked
@example(content=b"a: &a {b: *a}\n", argv=["list"])  # a mapping that contains itself
def test_project_files_exit_cleanly(files, content, argv):
    files.check(argv, content, fragments(content))


def duplicate_keys():
    """A key set twice, in the same or the other spelling (``learning_rate``/``learning-rate``)."""
    names = [o.name for o in fz.global_options() if o.yaml]
    return st.builds(lambda name, under: f"{name}: 1\n{name.replace('-', '_') if under else name}: 2\n",
                     st.sampled_from(names), st.booleans()).map(str.encode)


def broken_files():
    """Files no reading may accept: not a mapping, not UTF-8, broken syntax, a key set twice."""
    scalar_or_list = st.one_of(st.integers(), st.text(min_size=1).filter(str.strip),
                               st.lists(st.integers(), min_size=1)).map(
        lambda v: yaml.safe_dump(v).encode()).filter(
        lambda b: not isinstance(yaml.safe_load(b), dict) and yaml.safe_load(b) is not None)
    not_utf8 = fz.project_files().map(lambda b: b"model: imagenet\n\xff" + b)
    syntax = fz.project_files().map(lambda b: b"train: {epochs: [1,\n" + b)
    return st.one_of(scalar_or_list, not_utf8, syntax, duplicate_keys(),
                     st.sampled_from([b"\tmodel: imagenet\n", b"model: imagenet\n\ttrain: {}\n"]))


@fz.fuzz_settings(BROKEN)
@seed(fz.SEED)
@given(content=broken_files(), argv=st.sampled_from(COMMANDS[:3] + COMMANDS[5:]))
@example(content=b"train:\n  epochs: 5\n  epochs: 6\n", argv=["train"])  # the last silently won
@example(content=b"train:\n  learning-rate: 0.1\n  learning_rate: 0.2\n", argv=["train"])
@example(content=b"samples-dir: ''\n", argv=["preprocess"])  # the project folder as samples
@example(content=b'cache-dir: "a\\0b"\n', argv=["train"])  # a NUL: "embedded null byte" later
@example(content=b"null: x\n", argv=["train"])  # "unknown option none", not located
@example(content=b"random-seed: -1\n", argv=["train"])  # NumPy refused it after TensorFlow loaded
def test_broken_project_files_are_refused(files, content, argv):
    outcome = files.check(argv, content, fragments(content))
    first = (fz.message_lines(outcome.stderr) or [""])[0]
    assert outcome.code == 2 and first.startswith("Error: vergeml.yaml"), \
        fz.describe(argv, content, ["a broken project file was not refused, located"], outcome)


@fz.fuzz_settings(BROKEN)
@seed(fz.SEED)
@given(content=st.one_of(broken_files(), st.just(b"model: \xe7\x8c\xab\n")))
def test_help_explains_despite_a_broken_project_file(files, content):
    outcome = files.check(["help"], content, fragments(content))
    assert outcome.code == 0 and "Usage: ml" in outcome.stdout, \
        fz.describe(["help"], content, ["ml help failed on a broken project file"], outcome)
    warning = outcome.stderr.split("\n")[0]
    assert warning.startswith("Warning: ") and fz.names_one_of(warning, fragments(content)), \
        fz.describe(["help"], content, ["ml help did not say what is wrong with the file"], outcome)


@fz.fuzz_settings(REAL)
@seed(fz.SEED)
@given(content=fz.project_files(), argv=st.sampled_from(COMMANDS))
@example(content=b"\xff\xfem\x00o\x00", argv=["train"])
def test_in_process_is_the_real_ml(files, content, argv):
    inside, project, _ = files.run(argv, content)
    real, real_project = files.run_real(argv, content)
    assert fz.same_outcome(inside, real, (project, real_project)), (
        fz.describe(argv, content, ["in-process and real ml differ"], inside)
        + f"\n  real ml: {tuple(real)!r}")

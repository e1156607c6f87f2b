"""Property-based fuzz of ``ml`` command lines (hypothesis): every case exits 0, 1 or 2,
prints no traceback, and a non-zero exit's message names the problem.

How the cases run
    The bulk runs in-process through :func:`vergeml.cli.main.main` (a real ``ml`` start costs
    0.1-0.5 s; 400 of them would not fit the budget of ``make test``), with stdout and
    stderr captured as the console has them (surrogateescape / backslashreplace, so a
    non-UTF-8 argv byte behaves as in a terminal). :func:`test_in_process_is_the_real_ml`
    runs a sample through the real ``ml`` and requires the very same exit status and output.

Why no case starts real work
    Every case runs in a fresh project whose ``samples/`` folder is empty, so ``train`` and
    ``preprocess`` run all of their validation for real (options, project file, ``data:``
    section, splits) and then stop at "no labels found"; ``@fake-tron predict`` names files
    that do not exist. This is chosen over stubbing the commands: the validation under test
    is the one users get, up to the last check before the work. As a guard, the harness
    replaces ``vergeml.runtimes.tensorflow_setup.load`` and the model's ``predictor`` with tripwires that fail
    the case, and fails a case that imports TensorFlow or Keras (the modules already loaded
    by earlier tests of the session aside).

Reproducing a failure
    The cases come from ``@seed(SEED)`` (``VERGEML_FUZZ_SEED`` overrides it); a failure
    prints the seed, the argv, the project file and a shell line that reproduces it, and
    hypothesis prints the drawn example. Shrinking is off (``VERGEML_FUZZ_SHRINK=1`` turns
    it on). Each bug the fuzz found is an ``@example`` below, with what it was.
"""

import pytest
from hypothesis import example, given, seed
from hypothesis import strategies as st

from tests.reliability import fuzz_strategies as fz

LINES = 300  # the general fuzz
TARGETED = 50  # each targeted property
REAL = 15  # through the real ml


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The :class:`~tests.reliability.fuzz_strategies.Harness` of this module."""
    with fz.harness(tmp_path_factory.mktemp("fuzz-cli")) as harness:
        yield harness


@fz.fuzz_settings(LINES)
@seed(fz.SEED)
@given(argv=fz.command_lines())
# Found by the fuzz; each failed before its fix:
@example(argv=["@fake-tron", "predict", ""])  # ": No such file or directory", naming no file
@example(argv=["list", "--output"])  # "--format: expected a value": the alias, not what was typed
@example(argv=["trian\nx"])  # the message broke into two lines at the typed newline
def test_command_lines_exit_cleanly(cli, argv):
    cli.check(argv)


def path_options():
    """The global options that name a file or folder, from their declarations."""
    return [o for o in fz.global_options() if o.metavar in ("DIR", "PATH")]


@fz.fuzz_settings(TARGETED)
@seed(fz.SEED)
@given(option=st.sampled_from(path_options()), value=st.sampled_from(["", " ", "\t"]),
       word=st.sampled_from(["train", "list", "preprocess"]))
# Each was taken before the fix as the current folder: training on the project folder itself
@example(option=fz.global_options()[0], value=None, word=None)  # regressions, below
def test_empty_paths_are_refused_by_name(cli, option, value, word):
    cases = [("samples-dir", "", "train"), ("project-dir", "", "list"), ("cache-dir", "", "train"),
             ("file", "", "list")] if value is None else [(option.name, value, word)]
    for name, text, command in cases:
        argv = [command, f"--{name}={text}"]
        outcome = cli.check(argv)
        assert outcome.code == 2 and f"--{name}" in outcome.stderr, \
            fz.describe(argv, fz.DEFAULT_YAML, [f"--{name}={text!r} not refused by name"], outcome)


def unrelated_words():
    """Words sharing no character with any command name: no suggestion can help."""
    from vergeml.cli.main import command_names
    from vergeml.settings.environment import Environment
    used = set("".join(command_names(Environment("."))))
    alphabet = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789" if c not in used]
    return st.text(st.sampled_from(alphabet), min_size=1, max_size=4)


@fz.fuzz_settings(TARGETED)
@seed(fz.SEED)
@given(word=unrelated_words())
@example(word="x")  # suggested 'ls' before the fix: any word of one or two letters did
def test_unrelated_words_get_no_suggestion(cli, word):
    outcome = cli.check([word])
    assert outcome.code == 2 and "Did you mean" not in outcome.stderr, \
        fz.describe([word], fz.DEFAULT_YAML, ["a suggestion that shares nothing with the word"], outcome)


@fz.fuzz_settings(TARGETED)
@seed(fz.SEED)
@given(word=st.sampled_from(fz.COMMANDS), option=fz.unknown_option(), data=st.data())
def test_unknown_options_are_refused_by_name(cli, word, option, data):
    head = [f"@{fz.INSTANCE}", "predict", "cat.jpg"] if word == "predict" else [word]
    argv = data.draw(st.permutations(head[-1:] + [option]), label="order") if word != "predict" \
        else head + [option]
    outcome = cli.check(argv)
    name = option.partition("=")[0]
    assert outcome.code == 2 and f"unknown option {name}" in outcome.stderr, \
        fz.describe(argv, fz.DEFAULT_YAML, ["not refused by name"], outcome)


def numeric_options():
    """The int and float options of ``train`` and the global options, from their declarations."""
    options = fz.global_options() + fz.command_options("train")
    return [o for o in options if o.type in ("int", "float") and not o.positional]


def bad_numbers(option):
    """Values no numeric declaration may accept: not a number, not finite, beyond 64 bits."""
    words = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "1" + "0" * 400, "", "abc", "1,"]
    if option.type == "int":
        words += ["1.5", "9" * 25, "-" + "9" * 25, "0x10"]
    if option.name == "random-seed":
        words += ["-1", str(2 ** 32)]  # what NumPy's and Keras's seeding refuse
    return st.sampled_from(words)


@fz.fuzz_settings(TARGETED)
@seed(fz.SEED)
@given(data=st.data())
@example(data=None)  # regressions, below
def test_bad_numbers_are_refused_by_name(cli, data):
    if data is None:  # accepted before the fix: nan/inf/beyond int64 and seeds NumPy refuses
        cases = [("learning-rate", "inf"), ("alpha", "1e309"), ("decay", "inf"),
                 ("early-stopping-delta", "Infinity"), ("random-seed", "-1"),
                 ("random-seed", "4294967296"), ("epochs", "9" * 25)]
    else:
        option = data.draw(st.sampled_from(numeric_options()), label="option")
        cases = [(option.name, data.draw(bad_numbers(option), label="value"))]
    for name, value in cases:
        argv = ["train", f"--{name}={value}"]
        outcome = cli.check(argv)
        assert outcome.code == 2 and f"--{name}" in outcome.stderr, \
            fz.describe(argv, fz.DEFAULT_YAML, [f"--{name}={value!r} not refused by name"], outcome)


@fz.fuzz_settings(REAL)
@seed(fz.SEED)
@given(argv=fz.command_lines())
@example(argv=["list", "--output=\udcff"])  # a non-UTF-8 byte on the real console
def test_in_process_is_the_real_ml(cli, argv):
    inside, project, _ = cli.run(argv)
    real, real_project = cli.run_real(argv, fz.DEFAULT_YAML)
    assert fz.same_outcome(inside, real, (project, real_project)), (
        fz.describe(argv, fz.DEFAULT_YAML, ["in-process and real ml differ"], inside)
        + f"\n  real ml: {tuple(real)!r}")

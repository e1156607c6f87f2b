"""Hypothesis strategies for the bad-input fuzz: ``ml`` command lines and ``vergeml.yaml`` bytes.

Every name comes from the code, not from a copied list: the commands'
options from their declarations (:func:`vergeml.cli.main.find_command`), the global
options from :data:`vergeml.settings.project_settings.GLOBAL_OPTIONS`, the ``device:`` mapping
from :data:`vergeml.settings.project_settings.DEVICE_OPTIONS`, the ``data:`` keys, sources and
operations from :mod:`vergeml.data.data_section` and the plugin tables. A new
option is fuzzed the day it is declared.

Values that name paths (``--samples-dir``, ``--file``, ``new DIR`` ...) are
single path components without ``/``: a case never reads or writes outside
the throw-away project folder it runs in.

The second half is the harness both fuzz modules share: throw-away projects
(:class:`CaseProjects`), running a case in-process or through the real ``ml``
(:func:`run_in_process`, :func:`run_subprocess`), the oracle (:func:`problems`:
exit status, traceback, whether the message names the problem) and the
tripwires that keep every case at validation (:func:`harness`).
"""
import contextlib
import functools
import os
import tempfile

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# The command words of the fuzz; "predict" is typed as ``@<INSTANCE> predict``.
COMMANDS = ("train", "help", "list", "new", "preprocess", "predict")
# A fake trained instance the harness creates in every project (see test_fuzz_cli).
INSTANCE = "fake-tron"
# What real argv bytes that are not UTF-8 become in Python (surrogateescape).
_NON_UTF8 = "".join(chr(0xDC80 + b) for b in (0x7F, 0x80, 0xA0, 0xFF))
# Characters no argv can carry (NUL) and those that would leave the project folder.
_EXCLUDED = "\x00/\\"
# Numbers spelled as text: the edge cases of int()/float() and of YAML's resolver.
NUMBER_WORDS = ("nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "1e309", "-1e309",
                "1e-400", "-0", "0", "-1", "0x10", "1_000", "\u0661\u0662", "5.0", " 7 ", "1e3",
                "9" * 40, "-" + "9" * 40, ".5", "5.", "1/2", "", " ")


def _once(make):
    """Build each strategy once per argument (building them is the slow part of drawing).

    Keyed by identity: options are module-level declarations, and some hold lists.
    """
    built = {}

    @functools.wraps(make)
    def cached(*args):
        key = tuple(id(a) for a in args)
        if key not in built:
            built[key] = (args, make(*args))  # args kept alive: their ids stay theirs
        return built[key][1]
    return cached


def _misspell(word, data):
    """One edit of ``word``: a dropped, doubled, swapped or replaced character, or the case changed."""
    if not word:
        return "x"
    i = data.draw(st.integers(0, len(word) - 1), label="edit position")
    edit = data.draw(st.sampled_from(("drop", "double", "swap", "replace", "upper", "underscore")),
                     label="edit")
    if edit == "drop":
        return word[:i] + word[i + 1:] or "x"
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    if edit == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if edit == "upper":
        return word.upper()
    if edit == "underscore":
        return word.replace("-", "_") if "-" in word else word + "_"
    return word[:i] + data.draw(st.characters(blacklist_characters=_EXCLUDED,
                                              blacklist_categories=("Cs",))) + word[i + 1:]


@_once
def safe_text(max_size=12):
    """Unicode text that is a single path component, non-UTF-8 argv bytes included."""
    chars = st.one_of(st.characters(blacklist_characters=_EXCLUDED, blacklist_categories=("Cs",)),
                      st.sampled_from(_NON_UTF8 + "\t =,.:@-_%é猫\u200b\u202e"))
    return st.text(chars, max_size=max_size)


@_once
def numbers():
    """Numbers as text: huge, negative, fractional, NaN/inf spellings."""
    return st.one_of(
        st.integers(-10 ** 30, 10 ** 30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(NUMBER_WORDS))


# -- the real option tables -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def command_options(word):
    """The declared options of command ``word`` (tuple of :class:`vergeml.settings.option.Option`)."""
    from vergeml.cli.main import find_command
    from vergeml.settings.environment import Environment
    with tempfile.TemporaryDirectory() as folder:  # no project file: the default model
        return tuple(find_command(word, Environment(folder)).options)


@functools.lru_cache(maxsize=None)
def global_options():
    """The global options (tuple of :class:`vergeml.settings.option.Option`)."""
    from vergeml.settings.project_settings import GLOBAL_OPTIONS
    return tuple(GLOBAL_OPTIONS)


@_once
def valid_value(option):
    """A value the declaration accepts (or close to it), as typed on a command line."""
    if option.choices:
        return st.sampled_from([str(c) for c in option.choices] + list(option.also))
    if option.type in ("int", "float"):
        return st.one_of(st.integers(0, 200).map(str), st.sampled_from(list(option.also) or ["1"]))
    if option.type == "bool":
        return st.sampled_from(("true", "false", "yes", "no", "on", "off", "1", "0"))
    if option.type == "list":
        return st.lists(safe_text(6), max_size=3).map(",".join)
    return safe_text()


@_once
@st.composite
def option_value(draw, option):
    """A value for ``option``: valid, misspelled, of the wrong type, a number edge case, a grid list, empty."""
    kind = draw(st.sampled_from(("valid", "number", "text", "misspelled", "list", "empty")))
    if kind == "valid":
        return draw(valid_value(option))
    if kind == "number":
        return draw(numbers())
    if kind == "misspelled":
        return _misspell(draw(valid_value(option)), draw(st.data()))
    if kind == "list":  # a grid on train, a list option, or a wrong comma list
        return ",".join(draw(st.lists(st.one_of(valid_value(option), numbers()), min_size=2,
                                      max_size=4)))
    if kind == "empty":
        return ""
    return draw(safe_text())


@_once
@st.composite
def option_name(draw, option):
    """How ``--option`` is typed: canonical, underscores, short, misspelled, upper case."""
    spellings = option.spellings() + ([f"-{option.short}"] if option.short else [])
    how = draw(st.sampled_from(("as declared", "as declared", "misspelled", "upper")))
    name = draw(st.sampled_from(spellings))
    if how == "misspelled":
        return "--" + _misspell(name.lstrip("-"), draw(st.data()))
    if how == "upper":
        return name.upper()
    return name


@_once
@st.composite
def option_tokens(draw, option):
    """The tokens of one option: ``--x=v``, ``--x v``, ``--x=``, bare ``--x``."""
    if option.positional:
        return [draw(safe_text()) for _ in range(draw(st.integers(0, 2)))]
    name = draw(option_name(option))
    value = draw(option_value(option))
    form = draw(st.sampled_from(("equals", "separate", "bare", "equals")))
    if form == "bare" or (option.flag and draw(st.booleans())):
        return [name]
    if form == "separate":
        return [name, value]
    return [f"{name}={value}"]


@st.composite
def unknown_option(draw):
    """An option no table declares, in ``--x``, ``--x=v`` or ``-x`` form."""
    word = draw(st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"),
                                      blacklist_characters=_EXCLUDED), min_size=1, max_size=10))
    return draw(st.sampled_from((f"--zz{word}", f"--zz{word}=1", f"--no-{word}x")))


@st.composite
def command_lines(draw):
    """An argv list for ``ml``: a real, misspelled or unknown command and options drawn from
    the real tables, typed in every spelling and with every kind of value."""
    word = draw(st.sampled_from(COMMANDS))
    tables = global_options() + command_options(word)
    chosen = draw(st.lists(st.sampled_from(tables), max_size=4))
    tokens = [t for option in chosen for t in draw(option_tokens(option))]
    extra = draw(st.lists(st.one_of(unknown_option(), safe_text(), numbers()), max_size=1))
    tokens += extra
    tokens = draw(st.permutations(tokens))
    shape = draw(st.sampled_from(("command", "command", "command", "misspelled", "none")))
    if word == "predict":
        head = [f"@{INSTANCE}", "predict"]
    elif shape == "misspelled":
        head = [_misspell(word, draw(st.data()))]
    else:
        head = [] if shape == "none" else [word]
    where = draw(st.integers(0, len(tokens)))  # options may come before the command too
    return tokens[:where] + head + tokens[where:]


# -- vergeml.yaml ----------------------------------------------------------------------------

@_once
def _scalar():
    """Any YAML scalar, including the awkward ones."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
        st.sampled_from(NUMBER_WORDS))


@_once
def _any_value():
    """A scalar, or a list or mapping of them (wrong nested shapes)."""
    return st.recursive(_scalar(), lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)


def _as_yaml(text):
    """A command-line value as the project file would hold it (``5`` an int, ``yes`` a bool)."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


@_once
def _yaml_value(option):
    """A value for an option in the project file: right type, wrong type, edge numbers."""
    return st.one_of(valid_value(option).map(_as_yaml), _any_value())


@_once
@st.composite
def _key(draw, name):
    """How a key is written: as declared, with underscores, misspelled, upper case."""
    how = draw(st.sampled_from(("as declared", "as declared", "underscores", "misspelled", "upper")))
    if how == "underscores":
        return name.replace("-", "_")
    if how == "misspelled":
        return _misspell(name, draw(st.data()))
    return name.upper() if how == "upper" else name


@_once
@st.composite
def _section(draw, options, max_size=4):
    """A mapping of some of ``options`` (by name) to values, plus maybe an unknown key."""
    chosen = draw(st.lists(st.sampled_from(options), max_size=max_size, unique_by=lambda o: o.name))
    section = {draw(_key(o.name)): draw(_yaml_value(o)) for o in chosen}
    if draw(st.integers(0, 4)) == 0:
        section[draw(st.text(min_size=1, max_size=8))] = draw(_any_value())
    return section


@_once
def _yaml_options(options):
    return tuple(o for o in options if o.yaml and not o.positional)


@_once
def _data_section():
    """The ``data:`` section: its keys, sources and operations from the code."""
    from vergeml.plugins import registry as plugins
    from vergeml.data.data_section import DATA_KEYS, source_names
    from vergeml.data.formats import CACHE_MODES
    ops = plugins.names(plugins.OPERATIONS)
    op = st.builds(lambda name, rest: {"op": name, **rest},
                   st.one_of(st.sampled_from(ops), st.text(max_size=6)),
                   st.dictionaries(st.sampled_from(("width", "height", "variants", "chance", "x",
                                                    "mode", "method", "channels", "position")),
                                   _scalar(), max_size=3))
    values = {
        "input": st.one_of(st.sampled_from(source_names()), st.builds(
            lambda t, extra: {"type": t, **extra}, st.sampled_from(source_names()),
            st.dictionaries(st.text(max_size=6), _scalar(), max_size=2)), _any_value()),
        "output": st.one_of(st.sampled_from(source_names()), _any_value()),
        "cache": st.one_of(st.sampled_from(CACHE_MODES), _scalar()),
        "preprocess": st.one_of(st.lists(op, max_size=3), _any_value()),
    }
    keys = st.lists(st.sampled_from(DATA_KEYS), unique=True, max_size=3)
    mapping = keys.flatmap(lambda ks: st.fixed_dictionaries({k: values[k] for k in ks}))
    return st.one_of(mapping, st.sampled_from(source_names()), _any_value())


@functools.lru_cache(maxsize=None)
def _device_options():
    from vergeml.settings.project_settings import DEVICE_OPTIONS
    return tuple(DEVICE_OPTIONS)


@st.composite
def project_dicts(draw):
    """A valid-ish project file as a dict: real keys and sections with wrong values mixed in."""
    data = draw(_section(_yaml_options(global_options()), 4))
    for word in draw(st.lists(st.sampled_from(COMMANDS), unique=True, max_size=2)):
        options = _yaml_options(command_options(word))
        data[draw(_key(word))] = draw(st.one_of(_section(options), _any_value())) \
            if options else draw(_any_value())
    if draw(st.booleans()):
        data["data"] = draw(_data_section())
    if draw(st.integers(0, 3)) == 0:
        data["device"] = draw(st.one_of(_section(_device_options()), _any_value()))
    return data


# libyaml's dumper and loader where built (10x faster than PyYAML's own).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dump(data, draw):
    """The dict as YAML text, in block or flow style, unicode escaped or not."""
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=draw(st.booleans()), sort_keys=False,
                     default_flow_style=draw(st.sampled_from((False, None, True))))


@st.composite
def _mutated_text(draw, text):
    """Damage YAML text the way hands do: a duplicated line, a tab, a cut, a stray character."""
    lines = text.splitlines(keepends=True) or [""]
    i = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(("duplicate line", "tab", "cut", "insert", "none")))
    if how == "duplicate line":
        lines.insert(i, lines[i])
    elif how == "tab":
        lines[i] = "\t" + lines[i]
    elif how == "cut":
        lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
    elif how == "insert":
        lines[i] = draw(st.sampled_from(("[", "{", ":", "- ", "&a ", "*b ", "!!python/object ",
                                         "? ", "%", "@", "`", "'", '"', "|"))) + lines[i]
    return "".join(lines)


# Hand-written shapes the generated dicts do not reach.
SPECIAL_FILES = (
    b"", b"\n", b"   \n", b"# only a comment\n", b"---\n", b"---\n...\n", b"~\n", b"null\n",
    b"42\n", b"-1e400\n", b".nan\n", b"hello\n", b"[]\n", b"- model: imagenet\n", b"- a\n- b\n",
    b"model: imagenet\nmodel: imagenet\n", b"train:\n  epochs: 5\n  epochs: 6\n",
    b"train:\n  learning-rate: 0.1\n  learning_rate: 0.2\n",
    b"model: imagenet\n\ttrain: {}\n", b"train:\n\tepochs: 5\n",
    b"\xff\xfe m\x00o\x00d\x00e\x00l\x00", b"model: imag\xe9net\n", b"\xef\xbb\xbfmodel: imagenet\n",
    b"model: [imagenet\n", b"train: {epochs: 5\n", b"key: 'unterminated\n", b": :\n",
    b"a: *undefined\n", b"a: !!python/object:os.system x\n", b"? [a, b]\n: c\n",
    b"train: &t {epochs: 5}\nlist: *t\n", b"[" * 2000 + b"]" * 2000 + b"\n",
    b"model: imagenet\x00\n", b"random-seed: 1.0e+400\n", b"random-seed: -99999999999999999999999\n",
    b"1: 2\n", b"true: false\n", b"null: x\n", b"2020-01-01: x\n", b"train: 2020-01-01\n",
    "model: 猫\ntrain:\n  optimizer: ädam\n".encode(), b"train: !!binary aGVsbG8=\n",
    b"device: {id: gpu:99, memory: 200%}\n", b"device: [1, 2]\n", b"data: [1, 2]\n",
    b"data:\n  preprocess:\n    - op: resize\n      width: .inf\n      height: -1\n",
    b"train:\n  epochs: " + b"9" * 5000 + b"\n", b"train:\n  alpha: " + b"9" * 400 + b"\n",
    b"a: 2020-13-45\n", b"samples-dir: null\ntrainings-dir:\n", b"samples-dir: ''\n",
    b'cache-dir: "a\\0b"\n', b"random-seed: -1\n", b"a: &a {b: *a}\n",
)


def billion_laughs(levels, width):
    """YAML whose aliases expand to ``width ** levels`` items (a few hundred bytes)."""
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


SPECIAL_FILES += (billion_laughs(9, 9), billion_laughs(12, 2))


@st.composite
def project_files(draw):
    """``vergeml.yaml`` bytes: valid-ish dicts (possibly damaged), other top-level shapes,
    non-UTF-8 encodings and the hand-written special files."""
    kind = draw(st.sampled_from(("dict", "dict", "dict", "damaged", "shape", "encoding", "special")))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_FILES))
    if kind == "shape":  # YAML that is a list or a scalar
        return _dump(draw(st.one_of(_scalar(), st.lists(_any_value(), max_size=3))), draw).encode()
    text = _dump(draw(project_dicts()), draw)
    if kind == "damaged":
        text = draw(_mutated_text(text))
    if kind == "encoding":
        encoding = draw(st.sampled_from(("latin-1", "utf-16", "utf-32", "cp1252")))
        return text.encode(encoding, errors="replace") + draw(st.sampled_from((b"", b"\xff", b"\x80x")))
    return text.encode("utf-8", errors="surrogateescape")


# -- running a case --------------------------------------------------------------------------

class HeavyWork(BaseException):
    """Raised by the tripwires: a fuzz case got past validation into real work.

    A BaseException so that ``cli.main``'s last line of defence does not turn it into
    an exit status: the harness must see it.
    """


def _build_project(folder):
    """An empty ``samples/`` and a fake instance whose model file is not a model (loading it
    would be a bug of the case: the tripwires stop it first)."""
    (folder / "samples").mkdir(parents=True)
    instance = folder / "trainings" / INSTANCE
    (instance / "checkpoints").mkdir(parents=True)
    (instance / "data.yaml").write_text(yaml.safe_dump(
        {"name": INSTANCE, "model": "imagenet", "status": "finished",
         "hyperparameters": {"architecture": "mobilenet", "size": 32}}))
    (instance / "checkpoints" / "labels.txt").write_text("a\nb\n")
    (instance / "checkpoints" / "model.keras").write_bytes(b"not a model")


def _tree(folder):
    """Every path under ``folder`` with its size: what a case may have changed."""
    import os
    return sorted((os.path.relpath(os.path.join(top, name), folder),
                   os.path.getsize(os.path.join(top, name)))
                  for top, dirs, files in os.walk(folder) for name in dirs + files)


class CaseProjects:
    """Throw-away projects for fuzz cases, ``<root>/<n>/proj``: a fresh one per case.

    Removing a folder costs milliseconds on this file system, so a project a case left
    as it was is used again (only its ``vergeml.yaml`` is rewritten); one the case changed
    (``ml new`` made a folder, a cache appeared) is set aside and a new one built.
    """

    def __init__(self, root):
        from pathlib import Path
        self.root = Path(root)
        self.count = 0
        self.current = None
        self._pristine = None

    def fresh(self, yaml_bytes=b"model: imagenet\n"):
        """A project in its initial state with ``yaml_bytes`` as ``vergeml.yaml`` (None: none).

        Returns:
            the project folder.
        """
        if self.current is None or _tree(self.current) != self._pristine:
            self.count += 1
            self.current = self.root / str(self.count) / "proj"
            _build_project(self.current)
            self._pristine = _tree(self.current)
        project_file = self.current / "vergeml.yaml"
        if yaml_bytes is None:
            project_file.unlink(missing_ok=True)
        else:
            project_file.write_bytes(yaml_bytes)
        self._pristine = _tree(self.current)
        return self.current


class Outcome(tuple):
    """``(code, stdout, stderr)`` of one case; ``stdout``/``stderr`` decoded as the real ``ml``'s are."""

    __slots__ = ()

    def __new__(cls, code, stdout, stderr):
        return super().__new__(cls, (code, stdout, stderr))

    code = property(lambda self: self[0])
    stdout = property(lambda self: self[1])
    stderr = property(lambda self: self[2])


def _decode(data):
    """Console bytes as text: stdout keeps non-UTF-8 bytes as surrogates (as Python's stdout does)."""
    return data.decode("utf-8", errors="surrogateescape")


def _stream(errors):
    """A console-like text stream: UTF-8 with the error handler Python gives the real one here."""
    import io
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def run_in_process(argv, cwd):
    """``vergeml.cli.main.main(argv)`` in ``cwd`` with stdout/stderr captured like a console.

    The streams use the real console's error handlers (surrogateescape on stdout,
    backslashreplace on stderr, what Python picks under a UTF-8 locale) so a case that
    prints a non-UTF-8 argv byte behaves as it would in a terminal. A ``SystemExit`` is
    an exit status like a returned one.

    Returns:
        an :class:`Outcome`.
    """
    import os
    import sys
    import warnings
    from vergeml.cli.main import main
    saved = (os.getcwd(), sys.stdout, sys.stderr, warnings.formatwarning,
             os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
    out, err = _stream("surrogateescape"), _stream("backslashreplace")
    os.chdir(cwd)
    sys.stdout, sys.stderr = out, err
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    finally:
        os.chdir(saved[0])
        sys.stdout, sys.stderr, warnings.formatwarning = saved[1:4]
        if saved[4] is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return Outcome(code, _decode(out.buffer.getvalue()), _decode(err.buffer.getvalue()))


def run_subprocess(argv, cwd, timeout=60):
    """The real ``ml argv`` in ``cwd`` (bytes in, decoded like :func:`run_in_process`)."""
    import subprocess
    from tests.conftest import ml_command, subprocess_env
    proc = subprocess.run(ml_command() + list(argv), cwd=cwd, env=subprocess_env(),
                          capture_output=True, timeout=timeout)
    return Outcome(proc.returncode, _decode(proc.stdout), _decode(proc.stderr))


# Lines of stderr that are not the message itself: generic hints and warnings.
_NOT_THE_MESSAGE = ("See ", "Run ", "Warning: ", "For example ")


def message_lines(stderr):
    """The lines of stderr that state the problem (hints and warnings left out).

    Split at ``\\n`` only: a message may quote a value holding other line-break characters.
    """
    return [line for line in stderr.split("\n") if line.strip() and not line.startswith(_NOT_THE_MESSAGE)]


def _normal(text):
    return str(text).lower().replace("_", "-")


def _short_named(fragment, message):
    """A short fragment counts only as a word of its own (quoted, after a space, before a colon ...)."""
    import re
    return re.search(r"(^|[\s'\"(@=/])" + re.escape(fragment) + r"($|[\s'\".,:;)?])", message) is not None


def _escaped(text):
    """``text`` as an error message may quote it: control characters escaped, the rest kept."""
    return "".join(c if c.isprintable() or c == "\t" else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def names_one_of(message, fragments):
    """Whether ``message`` names one of ``fragments`` (ignoring case and ``_``/``-``).

    A fragment of three or more characters counts anywhere; a shorter one (``0``, ``-x``)
    only as a word of its own, so a digit of a line number does not count as naming the
    problem; an empty value counts when the message shows ``''`` or ``""``.
    """
    message = _normal(message)
    # ``-nan`` is the short option ``-n`` with the value ``an`` (argparse's ``-nVALUE``).
    attached = {str(f)[2:] for f in fragments
                if str(f).startswith("-") and not str(f).startswith("--") and len(str(f)) > 2}
    for raw in set(fragments) | attached:
        fragment = _normal(raw)
        for form in {fragment, _normal(_escaped(str(raw)))}:
            if len(form.strip()) >= 3 and form in message:
                return True
            if form.strip() and _short_named(form.strip(), message):
                return True
        if not fragment.strip() and any(q in message for q in ("''", '""', f"'{fragment}'")):
            return True
    return False


def problems(outcome, fragments):
    """What is wrong with an outcome, as a list of sentences (empty: the case passed).

    Args:
        outcome: the :class:`Outcome`.
        fragments: strings of the case (tokens, option names, values, keys, file names);
            a failing case's message must name one of them (:func:`names_one_of`).
    """
    found = []
    text = outcome.stdout + outcome.stderr
    if outcome.code not in (0, 1, 2):
        found.append(f"exit status {outcome.code}, expected 0, 1 or 2")
    if "Traceback" in text:
        found.append("a traceback was printed")
    if "looks like a bug" in text:
        found.append("an unexpected exception reached the last line of defence")
    if outcome.code not in (0, None):
        message = " ".join(message_lines(outcome.stderr))
        if not message:
            found.append("a non-zero exit without a message")
        elif not names_one_of(message, fragments):
            found.append("the message names nothing of the case")
    return found


def fragments_of_argv(argv):
    """The strings a message about ``argv`` may name: every token, its parts, the canonical
    name of every option it spells and the required arguments of its command."""
    from vergeml.settings.spelling import canonical
    tables = global_options() + tuple(o for word in COMMANDS if word in argv
                                      for o in command_options(word))
    parts = set()
    for token in argv:
        name, _, value = token.partition("=")
        parts.update({token, name, value, canonical(name), token.lstrip("@-"), token.partition(":")[0]})
        parts.update(value.split(","))
        parts.update(o.name for o in tables if name in o.spellings() or name == f"-{o.short}")
    parts.update(o.name for o in tables if o.positional and o.required)
    return parts


def fragments_of_data(data):
    """The strings a message about a parsed project file may name: its keys and values, nested."""
    parts, seen = set(), set()
    stack = [data]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # a YAML alias: the same object again
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            parts.update(str(k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        else:
            parts.add(str(node))
    return parts


# -- the harness the fuzz tests share ---------------------------------------------------------

SEED = int(os.environ.get("VERGEML_FUZZ_SEED", "20261202"))
# Shrinking a failure can take minutes; the failing case is printed as drawn instead
# (VERGEML_FUZZ_SHRINK=1 shrinks it, for a smaller example to debug).
PHASES = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if os.environ.get("VERGEML_FUZZ_SHRINK") else ())
# Seconds one case may take: every case stops at validation, in milliseconds.
CASE_SECONDS = 5.0
DEFAULT_YAML = b"model: imagenet\n"


def fuzz_settings(count):
    """Hypothesis settings of a fuzz test of ``count`` cases: no deadline (the first case imports
    the CLI), no example database (nothing written into the repository), no shrinking."""
    return settings(max_examples=count, deadline=None, database=None, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], print_blob=True)


def heavy_modules():
    """The TensorFlow and Keras modules imported so far."""
    import sys
    return {m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")}


def _tripwire(*args, **kwargs):
    raise HeavyWork("a fuzz case got past validation: it loaded TensorFlow or a model")


class Harness:
    """Runs fuzz cases in fresh projects and says what is wrong with an outcome.

    Args:
        root: folder for the throw-away projects.
    """

    def __init__(self, root):
        self.projects = CaseProjects(root)
        self.preloaded = heavy_modules()  # make test imports TensorFlow in earlier tests
        self.cases = 0
        self.real = 0

    def run_real(self, argv, yaml_bytes=DEFAULT_YAML):
        """``(outcome, project)`` of the real ``ml argv`` in a fresh project."""
        project = self.projects.fresh(yaml_bytes)
        self.real += 1
        return run_subprocess(argv, project), project

    def run(self, argv, yaml_bytes=DEFAULT_YAML):
        """``(outcome, project, seconds)`` of ``argv`` in-process in a fresh project."""
        import time
        project = self.projects.fresh(yaml_bytes)
        self.cases += 1
        start = time.monotonic()
        try:
            outcome = run_in_process(argv, project)
        except HeavyWork as trip:
            raise AssertionError(describe(argv, yaml_bytes, [str(trip)])) from None
        imported = heavy_modules() - self.preloaded
        assert not imported, describe(argv, yaml_bytes, [f"imported {sorted(imported)[:3]}"])
        return outcome, project, time.monotonic() - start

    def check(self, argv, yaml_bytes=DEFAULT_YAML, fragments=()):
        """Run a case and fail, describing it, when it exits wrongly, prints a traceback,
        names nothing of the case in a non-zero exit's message, or takes too long.

        Returns:
            the :class:`Outcome`.
        """
        outcome, project, seconds = self.run(argv, yaml_bytes)
        found = problems(outcome, set(fragments) | fragments_of_argv(argv)
                         | {str(project / "samples"), INSTANCE})
        if seconds > CASE_SECONDS:
            found.append(f"took {seconds:.1f} s (validation takes milliseconds)")
        assert not found, describe(argv, yaml_bytes, found, outcome)
        return outcome


def describe(argv, yaml_bytes, found, outcome=None):
    """A failing case, reproducible: the seed, the argv, the project file and a shell line."""
    import shlex
    lines = [f"fuzz case failed: {'; '.join(found)}",
             f"  seed: {SEED} (VERGEML_FUZZ_SEED={SEED} runs the same cases)",
             f"  argv: {argv!r}",
             f"  vergeml.yaml: {yaml_bytes!r}"[:2000],
             "  reproduce: in a project with an empty samples/ folder and that vergeml.yaml: ml "
             + " ".join(shlex.quote(a) for a in argv)]
    if outcome is not None:
        lines += [f"  exit status: {outcome.code}", f"  stdout: {outcome.stdout[:500]!r}",
                  f"  stderr: {outcome.stderr[:1500]!r}"]
    return "\n".join(lines)


@contextlib.contextmanager
def harness(root):
    """A :class:`Harness` with the tripwires set: loading TensorFlow (``vergeml.runtimes.tensorflow_setup.load``)
    or a model's predictor raises :class:`HeavyWork`, so no case can start real work.

    Also the console of every ``ml`` test: ``COLUMNS=100``, no ``VERGEML_DEBUG``.
    """
    import pytest
    import vergeml.runtimes.tensorflow_setup
    from vergeml.models.imagenet import ImagenetModel
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vergeml.runtimes.tensorflow_setup, "load", _tripwire)
        patch.setattr(ImagenetModel, "predictor", _tripwire)
        patch.setenv("COLUMNS", "100")
        patch.delenv("VERGEML_DEBUG", raising=False)
        runner = Harness(root)
        yield runner
    print(f"\nfuzz: {runner.cases} cases in-process, {runner.real} through the real ml "
          f"(seed {SEED})")


def same_outcome(first, second, projects):
    """Whether two outcomes agree: exit status and output, the project folders' paths aside."""
    def plain(outcome, project):
        return tuple(str(part).replace(str(project), "<project>") for part in outcome)
    return plain(first, projects[0]) == plain(second, projects[1])

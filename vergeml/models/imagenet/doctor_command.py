"""``ml doctor``: find the images that hold a model back (docs/doctor.md).

Thin: the options are declared here, the work is in :mod:`vergeml.doctor.doctor_run`,
imported only when the command runs (``ml help doctor`` reads this class).
"""
from vergeml.commands.command_base import Command
from vergeml.doctor.findings import KINDS
from vergeml.models.imagenet.imagenet_options import FEATURE_OPTION_NAMES, TRAIN_OPTIONS
from vergeml.settings.option import Option

# The backbone options of ml train that decide the features (and ``runtime``, whose
# features are a cache stage of their own): the doctor reads the features train cached.
BACKBONE_OPTIONS = tuple(o for o in TRAIN_OPTIONS if o.name in FEATURE_OPTION_NAMES + ("runtime",))

DOCTOR_OPTIONS = (
    Option("kinds", type="list", metavar="KINDS",
           help="Which kinds of finding to look for, a comma list of " + ", ".join(KINDS)
                + " (default: all)."),
    Option("limit", type="int", rule=">=0",
           help="Findings per kind in the table and on the contact sheets (default: 10; 0: all); "
                "json and csv list every finding unless it is given."),
    Option("format", default="table", choices=("table", "json", "csv"),
           help="Output: a table grouped by kind, or one json/csv record per finding."),
    Option("review", metavar="FILE",
           help="Also write a CSV review file, one row per file of a finding, whose action "
                "column (keep, relabel:<label>, remove) you edit, then --apply."),
    Option("apply", metavar="FILE",
           help="Carry out the actions of an edited review file: move images to another class "
                "folder or into removed/, journaled first (no features needed)."),
    Option("undo", type="bool", flag=True, default=False,
           help="Put back every file the last --apply moved."),
)


class DoctorCommand(Command):
    """``ml doctor``: label errors, duplicates, leaks, outliers and bad files, found
    from the cached backbone features."""

    name = "doctor"
    description = "Find the images that hold a model back: wrong labels, duplicates, leaks, bad files."
    long_help = (
        "Reads the backbone features from the cache ml train fills (extracting what is\n"
        "missing) and reports, most certain first: label (probably filed under the wrong\n"
        "class, with the suggested one), conflict (copies under different labels), leak\n"
        "(copies in different splits), duplicate (exact or near copies), outlier (far from\n"
        "every class), quality (unreadable, tiny, blank, dark, bright or blurry) and\n"
        "imbalance (class counts). A contact sheet per kind is written to doctor/<kind>.png.\n\n"
        "The backbone options (--architecture, --size ...) not given here or under doctor: in\n"
        "vergeml.yaml come from its train: section, so the features are the ones ml train\n"
        "cached.\n\n"
        "Nothing is changed until you ask: --review=FILE writes a CSV to edit, --apply=FILE\n"
        "moves the files it names (a journal is written first) and --undo puts them back.\n"
        "Findings are not an error: the exit status is 0 unless the command failed.")
    options = DOCTOR_OPTIONS + BACKBONE_OPTIONS
    examples = ("ml doctor", "ml doctor --kinds=label,leak --limit=20",
                "ml doctor --format=json > findings.json",
                "ml doctor --architecture=mobilenet --alpha=0.25",
                "ml doctor --review=review.csv", "ml doctor --apply=review.csv", "ml doctor --undo")

    def run(self, args, env):
        from vergeml.doctor.doctor_run import doctor
        return doctor(args, env, backbone=[o.name for o in BACKBONE_OPTIONS])

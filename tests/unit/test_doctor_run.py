"""``ml doctor``'s run logic without features (vergeml/doctor/doctor_run.py): the kinds asked
for, where the backbone options come from (so the doctor reads the features ``ml train``
cached), one mode at a time, paths relative to the project, and the contact sheets
(vergeml/doctor/contact_sheet.py) drawn from small in-memory images."""
import os

import pytest
from PIL import Image

from vergeml.doctor import contact_sheet
from vergeml.doctor.doctor_run import _check_modes, _relative, backbone_settings, parse_kinds
from vergeml.doctor.findings import KINDS, Finding
from vergeml.errors import ConfigError, UsageError
from vergeml.models.imagenet.doctor_command import BACKBONE_OPTIONS, DoctorCommand
from vergeml.settings.environment import Environment
from vergeml.settings.project_settings import load_project_file

BACKBONE = [o.name for o in BACKBONE_OPTIONS]


def test_kinds_default_to_all_accept_plurals_and_keep_the_report_order():
    assert parse_kinds(None) == KINDS and parse_kinds(["all"]) == KINDS
    assert parse_kinds(["leaks", "Label", "duplicates"]) == ("label", "leak", "duplicate")
    with pytest.raises(UsageError, match="unknown kind 'labl'.*label"):
        parse_kinds(["labl"])


def test_review_apply_and_undo_are_one_at_a_time():
    _check_modes({"review": "r.csv", "apply": None, "undo": False})
    with pytest.raises(UsageError, match="--apply and --undo cannot be combined"):
        _check_modes({"apply": "r.csv", "undo": True})


def environment(tmp_path, yaml_text, typed=()):
    (tmp_path / "vergeml.yaml").write_text(yaml_text)
    project = load_project_file(tmp_path / "vergeml.yaml")
    env = Environment(tmp_path, project, {"samples-dir": "samples"})
    command = DoctorCommand()
    typed = dict(typed)
    env.command_line = typed
    args = command.option_set().resolve(typed, project.section("doctor"), where="doctor",
                                        lines=project.lines)
    return args, env


def test_backbone_options_come_from_the_command_line_then_doctor_then_train(tmp_path):
    args, env = environment(tmp_path, "train:\n  architecture: mobilenet\n  alpha: 0.5\n"
                                      "  size: 128\n  epochs: 3\ndoctor:\n  alpha: 0.25\n",
                            {"size": "96"})
    values = backbone_settings(args, env, BACKBONE)
    assert (values["architecture"], values["alpha"], values["size"]) == ("mobilenet", 0.25, 96)
    assert values["resize"] == "fill" and values["weights"] == "imagenet"  # the defaults
    assert "epochs" not in values


def test_without_settings_the_backbone_is_trains_default(tmp_path):
    args, env = environment(tmp_path, "model: imagenet\n")
    assert backbone_settings(args, env, BACKBONE)["architecture"] == "resnet-50"


def test_a_grid_in_train_uses_its_first_value_with_a_warning(tmp_path, capsys):
    args, env = environment(tmp_path, "train:\n  architecture: mobilenet\n  size: [96, 128]\n")
    assert backbone_settings(args, env, BACKBONE)["size"] == 96
    assert "train: size is a grid (96, 128): ml doctor uses 96" in capsys.readouterr().err


def test_backbone_options_that_cannot_work_together_fail_before_any_work(tmp_path):
    args, env = environment(tmp_path, "train:\n  architecture: resnet-50\n  alpha: 0.5\n")
    with pytest.raises(ConfigError, match="alpha"):
        backbone_settings(args, env, BACKBONE)


def test_files_are_named_relative_to_the_project_through_a_linked_samples_folder(tmp_path):
    photos = tmp_path / "elsewhere" / "photos"
    (photos / "ants").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "samples").symlink_to(photos, target_is_directory=True)
    (project / "test" / "ants").mkdir(parents=True)
    env = Environment(project, None, {"samples-dir": "samples"})
    assert env.samples_dir == photos.resolve()
    assert _relative(env, str(photos.resolve() / "ants" / "a.jpg")) == "samples/ants/a.jpg"
    assert _relative(env, str(project / "test" / "ants" / "b.jpg")) == "test/ants/b.jpg"


# -- contact sheets ---------------------------------------------------------------------------

def opener(sizes):
    """``relpath -> PIL.Image``: a solid image of the size given for it; others do not open."""
    def open_image(relpath):
        if relpath not in sizes:
            raise OSError("not an image")
        return Image.new("RGB", sizes[relpath], (200, 30, 30))
    return open_image


def test_a_sheet_per_kind_with_files_is_written_and_an_old_one_without_findings_removed(tmp_path):
    stale = tmp_path / "doctor" / "outlier.png"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    findings = [Finding("label", ("samples/ants/a.jpg",), 0.9, "p(bees)=0.9", ("ants",), ("train",), "bees"),
                Finding("leak", ("samples/ants/b.jpg", "test/ants/b.jpg"), 1.0, "2 copies",
                        ("ants", "ants"), ("train", "test")),
                Finding("imbalance", (), 0.3, "ants 3, bees 1")]
    sizes = {"samples/ants/a.jpg": (400, 100), "samples/ants/b.jpg": (50, 300)}
    written = contact_sheet.write_sheets(tmp_path, findings, KINDS, open_image=opener(sizes))
    assert [p.name for p in written] == ["label.png", "leak.png"]
    assert not stale.exists()  # outlier was checked and has no finding now
    assert sorted(os.listdir(tmp_path / "doctor")) == ["label.png", "leak.png"]  # nothing temporary left
    with Image.open(tmp_path / "doctor" / "leak.png") as sheet:
        sheet.load()
        assert sheet.format == "PNG" and sheet.width >= contact_sheet.TILE * contact_sheet.COLUMNS
        pixels = sheet.convert("RGB")
        # The readable copy is drawn (its red) and the unreadable one is a crossed tile.
        colours = {pixels.getpixel((x, y)) for x in range(0, sheet.width, 4) for y in range(0, sheet.height, 4)}
        assert (200, 30, 30) in colours and contact_sheet.COLORS["suggested"] in colours


def test_a_kind_not_checked_keeps_its_sheet_and_the_limit_caps_the_blocks(tmp_path):
    (tmp_path / "doctor").mkdir()
    (tmp_path / "doctor" / "leak.png").write_bytes(b"kept")
    many = [Finding("label", (f"samples/ants/{i}.jpg",), 0.5, "x", ("ants",), ("train",), "bees")
            for i in range(30)]
    open_image = opener({f"samples/ants/{i}.jpg": (64, 64) for i in range(30)})
    contact_sheet.write_sheets(tmp_path, many, ("label",), limit=6, open_image=open_image)
    with Image.open(tmp_path / "doctor" / "label.png") as six:
        small = six.size
    contact_sheet.write_sheets(tmp_path, many, ("label",), limit=0, open_image=open_image)
    with Image.open(tmp_path / "doctor" / "label.png") as everything:
        assert everything.height > small[1] * 3  # six blocks fill one row, thirty five rows
    assert (tmp_path / "doctor" / "leak.png").read_bytes() == b"kept"

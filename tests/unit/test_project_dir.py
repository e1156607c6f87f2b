"""Finding the project from a folder inside it (issue 30, item 9), as git finds ``.git``."""
from vergeml.settings.project_settings import find_project_dir


def test_the_nearest_folder_with_a_project_file(tmp_path):
    (tmp_path / "vergeml.yaml").write_text("model: imagenet\n")
    deep = tmp_path / "samples" / "cat"
    deep.mkdir(parents=True)
    assert find_project_dir(deep) == tmp_path
    assert find_project_dir(tmp_path) == tmp_path
    inner = tmp_path / "samples" / "vergeml.yaml"  # a nested project wins
    inner.write_text("model: imagenet\n")
    assert find_project_dir(deep) == tmp_path / "samples"


def test_outside_any_project_the_start_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    assert find_project_dir(folder) == folder
    (tmp_path / "a" / "vergeml.yaml").mkdir()  # a folder of that name is no project file
    assert find_project_dir(folder) == folder

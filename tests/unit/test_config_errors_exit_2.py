"""Configuration errors exit 2 with a location (issue 30, item 9): split counts that do
not fit the samples, and an unknown data source written as a shorthand."""
import pytest

from vergeml.settings.project_settings import ProjectFile, load_project_file
from vergeml.data.data_section import parse_data_config
from vergeml.data.split import SplitSpec, assign_splits
from vergeml.errors import ConfigError


def test_a_split_count_larger_than_the_samples_is_a_configuration_error():
    with pytest.raises(ConfigError, match="asked for 5000, there are 12") as info:
        assign_splits([f"a/{i}.png" for i in range(12)], SplitSpec("count", 5000),
                      SplitSpec("percent", 0.1), seed=1)
    assert info.value.exit_code == 2


def test_no_sample_left_for_training_is_a_configuration_error():
    with pytest.raises(ConfigError, match="no samples left for training"):
        assign_splits([f"a/{i}.png" for i in range(4)], SplitSpec("count", 2),
                      SplitSpec("count", 2), seed=1)


@pytest.mark.parametrize("text, line, column, excerpt", [
    ("model: imagenet\ndata:\n  input: bogus\n", 3, 10, "  input: bogus"),
    ("model: imagenet\ndata: bogus\n", 2, 7, "data: bogus"),
    ("model: imagenet\ndata:\n  input:\n    type: bogus\n", 4, 11, "    type: bogus"),
])
def test_an_unknown_input_type_is_located_and_lists_the_types(tmp_path, text, line, column, excerpt):
    path = tmp_path / "vergeml.yaml"
    path.write_text(text)
    project = load_project_file(path)
    with pytest.raises(ConfigError) as info:
        parse_data_config(project.data.get("data"), project.lines)
    message = info.value.message
    assert message == (f"vergeml.yaml:{line}:{column}: data.input.type: unknown type 'bogus'; "
                       "expected one of image, labeled-image, mnist.")
    assert message.excerpt[0] == excerpt and message.excerpt[1].index("^") == column - 1


def test_without_a_project_file_the_message_still_lists_the_types():
    with pytest.raises(ConfigError, match="^data.input.type: unknown type 'bogus'; expected one of "):
        parse_data_config({"input": "bogus"}, ProjectFile().lines)

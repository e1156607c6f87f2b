"""``vergeml.data.operations`` imports neither Pillow nor NumPy (``ml help resize``)."""
from vergeml.data import images, operations


def test_resize_method_names_match_the_pillow_filters():
    assert operations.METHOD_NAMES == tuple(images.METHODS)
    assert operations.RESIZE_MODES == images.RESIZE_MODES


def test_the_module_does_not_import_pillow_or_numpy():
    names = vars(operations)
    assert not {"ImageOps", "Image", "np", "fit_to_size", "to_rgb"} & set(names)

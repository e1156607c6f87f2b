"""Preprocessing operations (``data.preprocess`` in vergeml.yaml), one class each.

An operation takes an RGB ``PIL.Image`` and returns one. Random operations
draw from the per-sample ``random.Random`` they are given; on the validation
and test splits they get ``rng=None`` and act deterministically (a random crop
becomes a centre crop, a random flip does nothing), because augmentation
must only touch training data. ``augment`` does not change an image: it
makes ``variants`` copies of every training sample, each with its own random
draws.

Operations are plugins (entry-point group ``vergeml.operation``); a
third-party op is a class with the same attributes.
"""
from vergeml.plugins import registry as plugins
from vergeml.data.formats import RESIZE_MODES
from vergeml.errors import ConfigError, VergeMLError
from vergeml.settings.locations import located
from vergeml.settings.option import Option
from vergeml.settings.option_set import Configurable, OptionSet
from vergeml.settings.suggest import suggestion

# The names of vergeml.data.images.METHODS, here so that ``ml help resize``
# imports neither Pillow nor NumPy; tests/unit check both agree.
METHOD_NAMES = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos", "antialias")
POSITIONS = ("center", "top-left", "top-right", "bottom-left", "bottom-right")


class OperationError(VergeMLError):
    """An operation cannot be applied to an image (e.g. crop larger than the image)."""


class Operation(Configurable):
    """Base class of a preprocessing operation.

    Attributes:
        name: the ``op:`` value in vergeml.yaml.
        description: one line for ``ml help``.
        options: tuple of :class:`vergeml.settings.option.Option`.
        topic: help section (``image`` or ``general``).
        changes_pixels: False for ops that only change how many samples there
            are (``augment``); they stay out of the cache keys.
    """

    name = ""
    description = ""
    options = ()
    topic = "image"
    changes_pixels = True

    @property
    def random(self):
        """Whether the result depends on the random number generator."""
        return False

    @property
    def variants(self):
        """How many copies of each training sample this op asks for."""
        return 1

    def config(self):
        """What the result depends on, for cache keys and fingerprints."""
        return {"op": self.name, **self.values}

    def apply(self, img, rng):
        """Transform one image.

        Args:
            img: RGB ``PIL.Image``.
            rng: ``random.Random`` seeded for this sample and variant, or None
                on validation/test samples (then act deterministically).

        Returns:
            RGB ``PIL.Image``.
        """
        raise NotImplementedError


def _size_options(what):
    return (Option("width", type="int", rule=">0", required=True, help=f"Width of the {what} in pixels."),
            Option("height", type="int", rule=">0", required=True, help=f"Height of the {what} in pixels."))


class Augment(Operation):
    name = "augment"
    description = "Make several randomly varied copies of each training sample."
    topic = "general"
    changes_pixels = False
    options = (Option("variants", type="int", rule=">0", required=True,
                      help="Number of copies of each training sample (each with its own random draws)."),)

    @property
    def variants(self):
        return self["variants"]

    def config(self):
        # The count only decides how many variants exist, not what one looks like.
        return {"op": self.name}

    def apply(self, img, rng):
        return img


class Resize(Operation):
    name = "resize"
    description = "Resize images to a fixed width and height."
    options = _size_options("result") + (
        Option("method", default="antialias", choices=METHOD_NAMES,
               help="Resampling filter."),
        Option("mode", default="fill", choices=RESIZE_MODES,
               help="fill stretches; aspect-fill covers and crops the centre; aspect-fit letterboxes on black."),
        Option("channels", type="int", choices=(1, 3),
               help="Optional: 1 makes the result gray (still stored as 3 equal channels), 3 keeps colour."),
    )

    def apply(self, img, rng):
        from vergeml.data.images import fit_to_size
        img = fit_to_size(img, (self["width"], self["height"]), self["mode"], self["method"])
        if self["channels"] == 1:
            img = img.convert("L").convert("RGB")
        return img


class Crop(Operation):
    name = "crop"
    description = "Crop a fixed window out of each image."
    options = _size_options("window") + (
        Option("x", type="int", rule=">=0", help="Left edge of the window (set x and y together); overrides position."),
        Option("y", type="int", rule=">=0", help="Top edge of the window (set x and y together); overrides position."),
        Option("position", default="center", choices=POSITIONS,
               help="Where the window sits when x and y are not given."),
    )

    def check(self):
        if (self["x"] is None) != (self["y"] is None):
            raise ConfigError("crop: set both x and y, or neither")

    def apply(self, img, rng):
        width, height = _fits(img, self["width"], self["height"], self.name)
        if self["x"] is not None:
            left, top = self["x"], self["y"]
            if left + width > img.width or top + height > img.height:
                raise OperationError(
                    f"crop: window {width}x{height} at ({left}, {top}) does not fit "
                    f"in an image of {img.width}x{img.height}")
        else:
            left, top = _position(img, width, height, self["position"])
        return img.crop((left, top, left + width, top + height))


class RandomCrop(Operation):
    name = "random-crop"
    description = "Crop a window at a random position (centre on validation/test samples)."
    options = _size_options("window")

    @property
    def random(self):
        return True

    def apply(self, img, rng):
        width, height = _fits(img, self["width"], self["height"], self.name)
        if rng is None:
            left, top = _position(img, width, height, "center")
        else:
            left = rng.randint(0, img.width - width)
            top = rng.randint(0, img.height - height)
        return img.crop((left, top, left + width, top + height))


class _Flip(Operation):
    options = (Option("chance", type="float", default=1.0, rule="0..1",
                      help="Probability of flipping a training sample (1.0 flips every image)."),)

    @property
    def random(self):
        return 0.0 < self["chance"] < 1.0

    def apply(self, img, rng):
        if self["chance"] >= 1.0:
            return self.flip(img)
        if rng is None or self["chance"] <= 0.0:
            return img
        return self.flip(img) if rng.random() < self["chance"] else img


class FlipHorizontal(_Flip):
    name = "flip-horizontal"
    description = "Mirror images left to right, with a probability."

    @staticmethod
    def flip(img):
        from PIL import ImageOps
        return ImageOps.mirror(img)


class FlipVertical(_Flip):
    name = "flip-vertical"
    description = "Flip images upside down, with a probability."

    @staticmethod
    def flip(img):
        from PIL import ImageOps
        return ImageOps.flip(img)


class Grayscale(Operation):
    name = "grayscale"
    description = "Convert images to gray (kept as three equal RGB channels)."

    def apply(self, img, rng):
        return img.convert("L").convert("RGB")


class RGB(Operation):
    name = "rgb"
    description = "Convert images to RGB (every image already is; kept for old project files)."

    def apply(self, img, rng):
        from vergeml.data.images import to_rgb
        return to_rgb(img)


BUILTIN = {cls.name: cls for cls in (Augment, Resize, Crop, RandomCrop, FlipHorizontal,
                                      FlipVertical, Grayscale, RGB)}


def _fits(img, width, height, name):
    if width > img.width or height > img.height:
        raise OperationError(f"{name}: window {width}x{height} is larger than the image "
                             f"({img.width}x{img.height}); resize first")
    return width, height


def _position(img, width, height, position):
    free_x, free_y = img.width - width, img.height - height
    return {"center": (free_x // 2, free_y // 2), "top-left": (0, 0), "top-right": (free_x, 0),
            "bottom-left": (0, free_y), "bottom-right": (free_x, free_y)}[position]


# -- configuration ------------------------------------------------------------

def operation_names():
    """Names of all operations, built-in and installed plugins, sorted."""
    return sorted(set(BUILTIN) | set(plugins.names(plugins.OPERATIONS)))


def operation_class(name):
    """The class of an operation by name; None when unknown."""
    return BUILTIN.get(name) or plugins.load(plugins.OPERATIONS, name)


def parse_operations(entries, lines=None, where="data.preprocess"):
    """Validate the ``data.preprocess`` list and build the operations.

    Args:
        entries: the YAML value: a list of mappings with ``op`` and options.
        lines: ``ProjectFile.lines`` for ``file:line:`` prefixes.
        where: dotted key of the list in the project file.

    Returns:
        list of :class:`Operation`, in order.

    Raises:
        ConfigError: naming the entry, the option and what is allowed.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError(located(lines, where, f"{where}: expected a list of operations, "
                                                 "e.g. [{op: resize, width: 64, height: 64}]"))
    return [_parse_entry(entry, lines, f"{where}.{index}") for index, entry in enumerate(entries)]


def _parse_entry(entry, lines, where):
    if not isinstance(entry, dict):
        raise ConfigError(located(lines, where, f"{where}: expected a mapping such as "
                                                 "{op: resize, width: 64, height: 64}"))
    if "op" not in entry:
        first = f"{where}.{next(iter(entry))}" if entry else where
        raise ConfigError(located(lines, first, f"{where}: missing 'op' (one of {', '.join(operation_names())})",
                                  key=True))
    name = str(entry["op"])
    cls = operation_class(name)
    if cls is None:
        hint = suggestion(name, operation_names())
        raise ConfigError(located(lines, f"{where}.op", f"{where}.op: unknown operation '{name}'.{hint}"))
    section = {k: v for k, v in entry.items() if k != "op"}
    options = OptionSet(cls.options)
    known = [options.get(str(key)) for key in section]
    given = {option.name for option in known if option}
    missing = [option for option in options if option.required and option.name not in given]
    # With an unknown key (a typo of the missing one?) from_section's message, with a suggestion, helps more.
    if missing and all(known):
        raise ConfigError(located(lines, f"{where}.op",
                                  f"{where}: {name} needs {missing[0].name} ({missing[0].help})"))
    return cls.from_section(section, where=where, lines=lines, anchor=f"{where}.op")

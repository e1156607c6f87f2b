"""A range of values to draw from, typed ``--learning-rate=1e-4..1e-1``.

A search (``ml train --search=random|asha --trials=N``, see
:mod:`vergeml.grid.grid_plan`) draws each trial's value of a ranged option:
uniformly, or on a log scale when the range is positive and spans a factor of
10 or more (a learning rate from 1e-4 to 1e-1 is as likely to be below 1e-3 as
above 1e-2). An integer option draws whole numbers, both ends included.
"""
import math
from dataclasses import dataclass

SEPARATOR = ".."
LOG_SPAN = 10  # a positive range spanning this factor or more is drawn on a log scale


@dataclass(frozen=True)
class ValueRange:
    """The values from ``low`` to ``high`` of one option.

    Attributes:
        low: the low end (a parsed value of the option).
        high: the high end, larger than ``low``.
        integer: draw whole numbers.
    """

    low: float
    high: float
    integer: bool = False

    def __str__(self):
        return f"{self.low:g}{SEPARATOR}{self.high:g}"

    @property
    def log(self):
        """Whether values are drawn on a log scale."""
        return self.low > 0 and self.high / self.low >= LOG_SPAN

    def draw(self, rng):
        """One value, drawn with ``rng`` (a :class:`random.Random`).

        Returns:
            A float (rounded to 6 significant digits, as a user would type it), or an int.
        """
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + self.integer)))
        else:
            value = rng.uniform(self.low, self.high + self.integer)
        if self.integer:
            return min(int(math.floor(value)), self.high)
        return float(f"{value:.6g}")


def split_range(text):
    """``(low text, high text)`` of ``1e-4..0.1``, or None when ``text`` is not a range.

    Exponents and decimal points do not make a range: only two dots between two
    non-empty ends do.
    """
    if not isinstance(text, str) or SEPARATOR not in text:
        return None
    low, _, high = text.partition(SEPARATOR)
    if not low.strip() or not high.strip() or SEPARATOR in high:
        return None
    return low.strip(), high.strip()

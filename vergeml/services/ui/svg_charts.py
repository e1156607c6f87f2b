"""Line charts drawn on the server as SVG text: learning curves, ROC and precision-recall.

Why SVG written by hand: the page works offline with no JavaScript chart library
to ship or load, a chart scales to any screen without blurring, a screen reader
gets its title (``role="img"``, ``aria-label``, ``<title>``), and this module
needs only the standard library (no numpy, no matplotlib), so it imports fast.
"""
import html  # its entities are XML's too; xml.sax.saxutils would import urllib.request (25 ms)
import math
import re
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass

# Okabe-Ito (safe for colour-blind readers), strongest on white first; the faint yellow comes last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
FONT = "system-ui, sans-serif"
GREY = "#888"
_LEFT, _RIGHT, _TOP, _BOTTOM, _LEGEND_ROW = 56, 16, 32, 44, 18
_CLIP_PAD = 4  # lines on the plot's edge (accuracy 1.0) keep their full stroke width
# Characters XML 1.0 forbids even when escaped: one in a run name would break the whole page's SVG.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class Series:
    """One line of a chart.

    Attributes:
        name: the legend text.
        points: ``(x, y)`` pairs; a ``y`` (or ``x``) that is None or NaN is a gap in the line.
        dashed: draw the line dashed (e.g. validation next to a solid training line).
        color: a CSS colour; None takes the palette colour of the series' position.
    """
    name: str
    points: Sequence = ()
    dashed: bool = False
    color: str | None = None


class _Frame(namedtuple("_Frame", "left top width height x_range y_range")):
    """The plot area in pixels and the data ranges it shows."""

    def px(self, x):
        return self.left + (x - self.x_range[0]) / (self.x_range[1] - self.x_range[0]) * self.width

    def py(self, y):
        return self.top + (self.y_range[1] - y) / (self.y_range[1] - self.y_range[0]) * self.height


def nice_ticks(lo, hi, count=5):
    """Round tick values between ``lo`` and ``hi``, about ``count`` of them.

    Args:
        lo: the low end of the axis.
        hi: the high end of the axis.
        count: at most this many intervals, with the smallest step of 1, 2, 2.5 or 5 x 10^k
            (2.5 not between 1 and 10, where ticks would fall between whole numbers).

    Returns:
        The multiples of the step within ``[lo, hi]``, ascending (``[lo]`` when ``lo == hi``,
        empty for a non-finite or reversed range).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [float(lo)] if lo == hi and math.isfinite(lo) else []
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    # No step of 2.5 between 1 and 10: an axis of epochs would get ticks at 2.5 and 7.5.
    steps = (1, 2, 5, 10) if magnitude == 1 else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    # 12 significant digits drop the float noise of k * step (0.30000000000000004).
    return [float(f"{k * step:.12g}") for k in range(first, last + 1)]


def format_tick(value):
    """A tick value as short text.

    Args:
        value: the tick value.

    Returns:
        Integers without decimals (``"20"``), anything else with up to 3 significant digits.
    """
    if value == round(value) and abs(value) < 1e15:
        return str(int(round(value)))
    return f"{value:.3g}"


def line_chart(series, title, x_label, y_label, width=640, height=300,
               x_range=None, y_range=None, markers=(), diagonal=False):
    """A standalone SVG document of one or more line series on shared axes.

    Args:
        series: the :class:`Series` to draw, in legend order; a legend is shown for two or more.
        title: the chart title, also its accessible name.
        x_label: the text under the x axis.
        y_label: the text beside the y axis.
        width: the width in pixels.
        height: the height in pixels.
        x_range: a fixed ``(lo, hi)`` for the x axis; None fits the data with a small pad.
        y_range: a fixed ``(lo, hi)`` for the y axis (``(0, 1)`` for ROC); None fits the data.
        markers: ``(x, text)`` pairs, each a labelled dashed vertical line (where phase 2 begins).
        diagonal: draw the dashed ``y = x`` line (the chance line of a ROC curve).

    Returns:
        The SVG text, starting with ``<svg xmlns=...``.

    Raises:
        ValueError: for a fixed range whose ``lo`` is not below its ``hi``.
    """
    series = list(series)
    pairs = [p for s in series for run in _runs(s.points) for p in run]
    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    legend, rows = _legend(series, colors, width - _LEFT - _RIGHT) if len(series) > 1 else ("", 0)
    top = _TOP + rows * _LEGEND_ROW
    frame = _Frame(_LEFT, top, width - _LEFT - _RIGHT, max(height - top - _BOTTOM, 10),
                   _range(x_range, [x for x, _ in pairs]), _range(y_range, [y for _, y in pairs]))
    body = [_axes(frame, x_label, y_label), _markers(markers, frame), _plot(series, colors, frame, diagonal), legend]
    if not pairs:
        body.append(_text(frame.left + frame.width / 2, frame.top + frame.height / 2, "no data", size=13, fill="#666"))
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" font-family="{FONT}">')
    return "".join([head, f"<title>{_esc(title)}</title>", f'<rect width="{width}" height="{height}" fill="#fff"/>',
                    _text(width / 2, 19, title, size=14, fill="#222", extra=' font-weight="600"'), *body, "</svg>"])


def _runs(points):
    """The stretches of finite ``(x, y)`` pairs between the gaps."""
    runs, current = [], []
    for x, y in points:
        if None not in (x, y) and math.isfinite(x) and math.isfinite(y):
            current.append((float(x), float(y)))
        elif current:
            runs.append(current)
            current = []
    return runs + [current] if current else runs


def _range(fixed, values, pad=0.05):
    """A fixed ``(lo, hi)`` checked, else the span of the finite values widened by ``pad`` of it."""
    if fixed is not None:
        lo, hi = float(fixed[0]), float(fixed[1])
        if not lo < hi:
            raise ValueError(f"a chart range must go from low to high, got {fixed!r}")
        return lo, hi
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    # A flat line (a constant loss) still needs a span, with the line in its middle.
    margin = (hi - lo) * pad if hi > lo else (abs(lo) * 0.1 or 1.0)
    return lo - margin, hi + margin


def _num(value):
    return f"{round(value, 1):g}"


def _esc(text):
    """``text`` as XML text or a double-quoted attribute value."""
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def _text(x, y, content, size=11, anchor="middle", fill="#444", extra=""):
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}"{extra}>{_esc(content)}</text>')


def _line(x1, y1, x2, y2, stroke, extra=""):
    return (f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
            f'stroke="{_esc(stroke)}"{extra}/>')


def _axes(frame, x_label, y_label):
    """Grid lines, tick labels, the two axis lines and their labels."""
    bottom, right = frame.top + frame.height, frame.left + frame.width
    parts = []
    for t in nice_ticks(*frame.x_range):
        parts += [_line(frame.px(t), frame.top, frame.px(t), bottom, "#e6e6e6"),
                  _text(frame.px(t), bottom + 16, format_tick(t))]
    for t in nice_ticks(*frame.y_range):
        parts += [_line(frame.left, frame.py(t), right, frame.py(t), "#e6e6e6"),
                  _text(frame.left - 6, frame.py(t) + 4, format_tick(t), anchor="end")]
    corners = " ".join(f"{_num(x)},{_num(y)}"
                       for x, y in ((frame.left, frame.top), (frame.left, bottom), (right, bottom)))
    parts.append(f'<polyline class="axis" points="{corners}" fill="none" stroke="#444"/>')
    mid_y = frame.top + frame.height / 2
    parts.append(_text(frame.left + frame.width / 2, bottom + 36, x_label, size=12, fill="#222"))
    parts.append(_text(14, mid_y, y_label, size=12, fill="#222", extra=f' transform="rotate(-90 14 {_num(mid_y)})"'))
    return "".join(parts)


def _markers(markers, frame):
    """Dashed vertical lines with their text, for the markers within the x range."""
    parts = []
    for x, text in markers:
        if x is None or not frame.x_range[0] <= x <= frame.x_range[1]:  # NaN compares False
            continue
        px = frame.px(x)
        # Near the right edge the text runs leftwards so it stays inside the chart.
        late = px > frame.left + 0.75 * frame.width
        line = _line(px, frame.top, px, frame.top + frame.height, GREY, ' stroke-dasharray="4 3"')
        label = _text(px - 4 if late else px + 4, frame.top + 11, text, size=10,
                      anchor="end" if late else "start", fill="#555")
        parts.append(f'<g class="marker">{line}{label}</g>')
    return "".join(parts)


def _plot(series, colors, frame, diagonal):
    """The lines, clipped to the plot area by a nested ``<svg>`` (no clipPath id to clash in a page)."""
    x, y, w, h = (_num(v) for v in (frame.left - _CLIP_PAD, frame.top - _CLIP_PAD,
                                    frame.width + 2 * _CLIP_PAD, frame.height + 2 * _CLIP_PAD))
    parts = [f'<svg x="{x}" y="{y}" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}" overflow="hidden">']
    t0, t1 = max(frame.x_range[0], frame.y_range[0]), min(frame.x_range[1], frame.y_range[1])
    if diagonal and t0 < t1:
        parts.append(_line(frame.px(t0), frame.py(t0), frame.px(t1), frame.py(t1), GREY,
                           ' stroke-dasharray="4 4" class="diagonal"'))
    parts += [_series(s, color, frame) for s, color in zip(series, colors)]
    return "".join(parts) + "</svg>"


def _series(s, color, frame):
    """One series: a polyline per run between gaps, a dot for a run of a single point."""
    dash, paint = ' stroke-dasharray="6 4"' if s.dashed else "", _esc(color)
    parts = [f'<g class="series"><title>{_esc(s.name)}</title>']
    for run in _runs(s.points):
        coords = [(_num(frame.px(x)), _num(frame.py(y))) for x, y in run]
        if len(coords) == 1:
            parts.append(f'<circle cx="{coords[0][0]}" cy="{coords[0][1]}" r="3" fill="{paint}"/>')
        else:
            # Consecutive points on the same 0.1 px draw nothing: the PR curve of 10,000 test
            # images has ~10,000 points per class, a quarter of them apart on screen.
            points = " ".join(f"{px},{py}" for i, (px, py) in enumerate(coords)
                              if not i or coords[i - 1] != (px, py))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{paint}" stroke-width="2" '
                         f'stroke-linejoin="round"{dash}/>')
    return "".join(parts) + "</g>"


def _legend(series, colors, width):
    """A line sample and name per series, in rows under the title wrapping at ``width``; and the row count.

    The wrapping judges text by a rough width per character: there are no font metrics on the server.
    """
    parts, x, row = ['<g class="legend">'], 0.0, 0
    for s, color in zip(series, colors):
        entry = 30 + 7 * len(str(s.name))
        if x and x + entry > width:
            x, row = 0.0, row + 1
        left, base = _LEFT + x, _TOP + 5 + row * _LEGEND_ROW
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(_line(left, base - 4, left + 22, base - 4, color, f' stroke-width="2"{dash}'))
        parts.append(_text(left + 28, base, s.name, size=12, anchor="start", fill="#222"))
        x += entry + 14
    return "".join(parts) + "</g>", row + 1

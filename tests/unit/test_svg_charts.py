"""The server-side SVG line charts of ``ml ui``: well-formed XML, lines, gaps, escaping, axes."""
import math
import re
import xml.etree.ElementTree as ET

import pytest

from vergeml.services.ui.svg_charts import PALETTE, Series, format_tick, line_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def parse(svg):
    """The root element; ET raises on anything that is not well-formed XML."""
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" ')
    return ET.fromstring(svg)


def elements(root, tag, cls=None):
    return [e for e in root.iter(NS + tag) if cls is None or e.get("class") == cls]


def group(root, cls):
    found = elements(root, "g", cls)
    assert len(found) <= 1
    return found[0] if found else None


def coords(polyline):
    return [tuple(float(v) for v in pair.split(",")) for pair in polyline.get("points").split()]


def series_lines(root):
    return [p for g in elements(root, "g", "series") for p in g.iter(NS + "polyline")]


def texts(root):
    return ["".join(t.itertext()) for t in root.iter(NS + "text")]


def plot_corners(root):
    """``(left, top, right, bottom)`` of the plot area, read off the L-shaped axis line."""
    (left, top), (_, bottom), (right, _) = coords(elements(root, "polyline", "axis")[0])
    return left, top, right, bottom


def chart(*series, **kwargs):
    return parse(line_chart(list(series), kwargs.pop("title", "T"), "epoch", "acc", **kwargs))


# --- ticks ---------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, expected", [
    (0, 0.87, [0, 0.2, 0.4, 0.6, 0.8]),
    (1, 100, [20, 40, 60, 80, 100]),
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (0, 12, [0, 5, 10]),  # not 2.5 and 7.5: an axis of epochs has whole numbers
    (0, 1.2, [0, 0.25, 0.5, 0.75, 1]),
    (0, 10, [0, 2, 4, 6, 8, 10]),
    (0.95, 21.05, [5, 10, 15, 20]),
    (-1.3, 0.4, [-1, -0.5, 0]),
    (0.2475, 0.2525, [0.248, 0.249, 0.25, 0.251, 0.252]),
])
def test_nice_ticks(lo, hi, expected):
    assert nice_ticks(lo, hi) == pytest.approx(expected, abs=1e-12)


def test_nice_ticks_values_are_exact_multiples_without_float_noise():
    assert nice_ticks(0, 1)[3] == 0.6  # not 0.6000000000000001
    assert nice_ticks(0, 0.5)[3] == 0.3


def test_nice_ticks_degenerate_ranges():
    assert nice_ticks(2, 2) == [2.0]
    assert nice_ticks(3, 1) == []
    assert nice_ticks(0, math.nan) == []
    assert nice_ticks(0, math.inf) == []


@pytest.mark.parametrize("value, text", [
    (20.0, "20"), (0.0, "0"), (-0.0, "0"), (-3.0, "-3"), (0.2, "0.2"), (2.5, "2.5"),
    (0.30000000000000004, "0.3"), (0.12345, "0.123"), (0.0025, "0.0025"),
])
def test_format_tick(value, text):
    assert format_tick(value) == text


# --- the document ----------------------------------------------------------

def test_document_is_accessible_with_title_first():
    root = chart(Series("a", [(0, 1), (1, 2)]), title="Accuracy per epoch")
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Accuracy per epoch"
    assert root[0].tag == NS + "title" and root[0].text == "Accuracy per epoch"
    assert root.get("font-family") == "system-ui, sans-serif"
    assert root.get("width") == "640" and root.get("height") == "300"
    assert {"Accuracy per epoch", "epoch", "acc"} <= set(texts(root))


def test_line_has_one_point_per_finite_point():
    points = [(e, 0.5 + e / 100) for e in range(1, 13)]
    lines = series_lines(chart(Series("a", points)))
    assert len(lines) == 1
    assert len(coords(lines[0])) == 12
    xs = [x for x, _ in coords(lines[0])]
    assert xs == sorted(xs) and len(set(xs)) == 12


@pytest.mark.parametrize("gap", [None, math.nan])
def test_a_gap_splits_the_line(gap):
    points = [(1, 0.1), (2, 0.2), (3, 0.3), (4, gap), (5, 0.5), (6, 0.6)]
    lines = series_lines(chart(Series("a", points)))
    assert [len(coords(l)) for l in lines] == [3, 2]
    assert coords(lines[0])[-1][0] < coords(lines[1])[0][0]


def test_a_single_point_is_a_dot():
    root = chart(Series("a", [(1, None), (2, 0.5), (3, math.nan)]))
    assert series_lines(root) == []
    (dot,) = elements(root, "circle")
    left, top, right, bottom = plot_corners(root)
    assert left < float(dot.get("cx")) < right and top < float(dot.get("cy")) < bottom


def test_an_isolated_point_between_gaps_stays_visible():
    root = chart(Series("a", [(1, 0.1), (2, 0.2), (3, None), (4, 0.4), (5, None)]))
    assert [len(coords(l)) for l in series_lines(root)] == [2]
    assert len(elements(root, "circle")) == 1


def test_text_is_escaped_and_round_trips():
    nasty = 'a<b & "c" \'d\' >e'
    svg = line_chart([Series(nasty, [(0, 0), (1, 1)]), Series("b", [(0, 1), (1, 0)])],
                     f"T {nasty}", f"x {nasty}", f"y {nasty}")
    assert "a<b" not in svg and "& " not in svg
    root = parse(svg)
    assert root.get("aria-label") == f"T {nasty}"
    assert root[0].text == f"T {nasty}"
    assert {f"T {nasty}", f"x {nasty}", f"y {nasty}", nasty} <= set(texts(root))
    assert elements(root, "g", "series")[0].find(NS + "title").text == nasty


def test_control_characters_are_dropped_so_the_xml_stays_valid():
    root = parse(line_chart([Series("run\x1b[0m\x00", [(0, 0), (1, 1)])], "t\x07", "x", "y"))
    assert root[0].text == "t"
    assert elements(root, "g", "series")[0].find(NS + "title").text == "run[0m"


def test_legend_lists_every_series_in_order_with_its_colour():
    names = ["train acc", "val acc", "other run"]
    root = chart(*[Series(n, [(0, i), (1, i + 1)]) for i, n in enumerate(names)])
    legend = group(root, "legend")
    assert ["".join(t.itertext()) for t in legend.iter(NS + "text")] == names
    assert [l.get("stroke") for l in legend.iter(NS + "line")] == list(PALETTE[:3])
    assert [l.get("stroke") for l in series_lines(root)] == list(PALETTE[:3])


def test_no_legend_for_a_single_series():
    assert group(chart(Series("only", [(0, 0), (1, 1)])), "legend") is None


def test_a_long_legend_wraps_and_pushes_the_plot_down():
    few = chart(*[Series(f"s{i}", [(0, 0), (1, 1)]) for i in range(2)])
    many = chart(*[Series(f"a long series name {i}", [(0, 0), (1, 1)]) for i in range(9)])
    rows = {t.get("y") for t in group(many, "legend").iter(NS + "text")}
    assert len(rows) >= 3
    assert plot_corners(many)[1] > plot_corners(few)[1]


def test_colours_cycle_and_an_explicit_colour_wins():
    series = [Series(str(i), [(0, i), (1, i)]) for i in range(len(PALETTE) + 1)]
    series[2].color = "#123456"
    strokes = [l.get("stroke") for l in series_lines(chart(*series))]
    assert strokes[0] == strokes[-1] == PALETTE[0]
    assert strokes[1] == PALETTE[1] and strokes[2] == "#123456"


def test_fixed_ranges_put_the_corners_of_the_data_at_the_corners_of_the_plot():
    root = chart(Series("roc", [(0, 0), (0.5, 0.75), (1, 1)]), x_range=(0, 1), y_range=(0, 1))
    left, top, right, bottom = plot_corners(root)
    (line,) = series_lines(root)
    assert coords(line)[0] == (left, bottom)
    assert coords(line)[-1] == (right, top)
    assert coords(line)[1] == pytest.approx(((left + right) / 2, bottom - 0.75 * (bottom - top)), abs=0.1)


def test_data_range_has_a_small_pad():
    root = chart(Series("a", [(0, 10), (10, 20)]))
    left, top, right, bottom = plot_corners(root)
    (first, last) = coords(series_lines(root)[0])
    assert left < first[0] < left + 0.1 * (right - left)
    assert bottom > first[1] > bottom - 0.1 * (bottom - top)
    assert right > last[0] > right - 0.1 * (right - left)


def test_a_fixed_range_must_go_up():
    with pytest.raises(ValueError, match="low to high"):
        line_chart([Series("a", [(0, 0)])], "t", "x", "y", y_range=(1, 1))


def test_a_constant_series_sits_in_the_middle_of_a_real_range():
    root = chart(Series("loss", [(e, 0.25) for e in range(1, 6)]))
    left, top, right, bottom = plot_corners(root)
    ys = [y for _, y in coords(series_lines(root)[0])]
    assert ys == [pytest.approx((top + bottom) / 2, abs=0.1)] * 5
    assert "0.25" in texts(root)


@pytest.mark.parametrize("series", [[], [Series("a", [])], [Series("a", [(1, None), (2, math.nan)])]])
def test_no_finite_data_gives_axes_and_no_data(series):
    root = parse(line_chart(series, "t", "x", "y"))
    assert "no data" in texts(root)
    assert elements(root, "polyline", "axis")
    assert series_lines(root) == [] and elements(root, "circle") == []


def test_data_gives_no_no_data_text():
    assert "no data" not in texts(chart(Series("a", [(0, 0), (1, 1)])))


def test_markers_draw_a_dashed_line_and_their_text():
    root = chart(Series("a", [(e, e) for e in range(1, 21)]), markers=[(10, "phase 2"), (99, "off the axis")])
    (marker,) = elements(root, "g", "marker")
    line = marker.find(NS + "line")
    assert line.get("x1") == line.get("x2")
    assert line.get("stroke-dasharray")
    assert "".join(marker.find(NS + "text").itertext()) == "phase 2"
    left, top, right, bottom = plot_corners(root)
    assert (float(line.get("y1")), float(line.get("y2"))) == (top, bottom)
    points = coords(series_lines(root)[0])
    assert float(line.get("x1")) == pytest.approx(points[9][0], abs=0.1)
    assert "off the axis" not in texts(root)


def test_diagonal_runs_corner_to_corner():
    root = chart(Series("roc", [(0, 0), (1, 1)]), x_range=(0, 1), y_range=(0, 1), diagonal=True)
    (line,) = elements(root, "line", "diagonal")
    left, top, right, bottom = plot_corners(root)
    ends = [(float(line.get("x1")), float(line.get("y1"))), (float(line.get("x2")), float(line.get("y2")))]
    assert ends == [(left, bottom), (right, top)]
    assert line.get("stroke-dasharray")
    assert elements(chart(Series("roc", [(0, 0), (1, 1)])), "line", "diagonal") == []


def test_dashed_series_are_dashed_in_the_plot_and_the_legend():
    root = chart(Series("train", [(0, 0), (1, 1)]), Series("val", [(0, 1), (1, 0)], dashed=True))
    solid, dashed = series_lines(root)
    assert solid.get("stroke-dasharray") is None
    assert dashed.get("stroke-dasharray")
    samples = list(group(root, "legend").iter(NS + "line"))
    assert [s.get("stroke-dasharray") is not None for s in samples] == [False, True]


def test_coordinates_have_at_most_one_decimal():
    svg = line_chart([Series("a", [(i / 7, math.sin(i / 3)) for i in range(50)])], "t", "x", "y")
    numbers = re.findall(r'(?<![\w-])(?:points|x1|y1|x2|y2|x|y|cx|cy)="([^"]+)"', svg)
    assert numbers
    for value in numbers:
        for number in re.split(r"[ ,]", value):
            assert re.fullmatch(r"-?\d+(\.\d)?", number), number


def test_lines_outside_a_fixed_range_are_clipped_to_the_plot():
    root = chart(Series("a", [(0, -5), (1, 5)]), x_range=(0, 1), y_range=(0, 1))
    clip = next(e for e in root if e.tag == NS + "svg")
    assert clip.get("overflow") == "hidden"
    assert series_lines(clip)
    left, top, right, bottom = plot_corners(root)
    x, y, w, h = (float(v) for v in clip.get("viewBox").split())
    assert (x, y) == (float(clip.get("x")), float(clip.get("y")))  # 1:1, plot coordinates stay absolute
    assert x < left and y < top and x + w > right and y + h > bottom
    assert x + w - right < 10 and bottom - (y + h) > -10

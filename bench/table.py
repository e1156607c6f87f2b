"""Print the rows of one ``make bench`` run as one table.

Reads the JSON lines that :func:`rows.emit` appended to ``ROWS_FILE``
(``bench/run.sh`` passes the file it set as ``BENCH_ROWS``) and prints them
in plain aligned columns, under the machine's load average and core count;
with ``--markdown PATH``, also writes them as a Markdown table to PATH
(atomically: a reader sees the previous table or the new one).

Usage: python bench/table.py ROWS_FILE [--markdown PATH [--title TEXT] [--failed NAME ...]]
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

COLUMNS = ("figure", "this project", "baseline", "ratio", "target", "met")
RIGHT = {1, 3}  # this project, ratio: right-aligned


def read_rows(path):
    """The rows of ``path``, in the order they were emitted (none when it is missing)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def cells(row):
    """One row as the strings of :data:`COLUMNS`."""
    target, met = row["target"], row["met"]
    want = "" if target is None else f"{'>=' if row['higher_is_better'] else '<='} {target:g}x"
    ratio = "n/a" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}x"
    baseline = f"{row['baseline']:.4g} {row['unit']}" + (f" ({row['note']})" if row["note"] else "")
    return (row["figure"], f"{row['ours']:.4g} {row['unit']}", baseline, ratio, want,
            "" if met is None else ("yes" if met else "NO"))


def render(table):
    """Lines of ``table`` (header first): text left-aligned, numbers right-aligned."""
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = []
    for line in table:
        lines.append("  ".join(cell.rjust(width) if i in RIGHT else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(line, widths))).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def markdown(table):
    """Lines of ``table`` (header first) as a Markdown table; numbers right-aligned."""
    def line(cells_):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells_) + " |"
    rule = ["---:" if i in RIGHT else "---" for i in range(len(COLUMNS))]
    return [line(table[0]), "|" + "|".join(rule) + "|"] + [line(row) for row in table[1:]]


def write_markdown(path, title, heading, table, failed):
    """Write the table as a Markdown file (``bench/results/latest.md``).

    Args:
        path: where (its folder is created; written atomically).
        title: the file's first heading.
        heading: the line above the table (figures, load average, cores).
        table: rows of strings, :data:`COLUMNS` first.
        failed: names of the benchmarks that failed (listed under the table).
    """
    from vergeml.fileutil import atomic_write_text
    lines = [f"# {title}", "", heading, ""]
    lines += markdown(table) if len(table) > 1 else ["no figures recorded"]
    if failed:
        lines += ["", "Failed: " + "; ".join(failed)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows_file", metavar="ROWS_FILE", help="JSON lines written by rows.emit")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown here")
    parser.add_argument("--title", default="make bench", help="the Markdown file's title")
    parser.add_argument("--failed", action="append", default=[], metavar="NAME",
                        help="a benchmark that failed (repeatable), listed in the Markdown file")
    args = parser.parse_args()
    rows = read_rows(args.rows_file)
    one, five, fifteen = os.getloadavg()
    heading = (f"{len(rows)} figures, each a ratio to a baseline measured in the same run; load "
               f"average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min), {os.cpu_count()} cores")
    table = [COLUMNS] + [cells(row) for row in rows]
    print(f"\n{heading}")
    print("\n".join(render(table)) if rows else "no figures recorded")
    if args.markdown:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_markdown(args.markdown, f"{args.title}, {when}", heading, table, args.failed)
        print(f"written to {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

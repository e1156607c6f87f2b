"""Print the rows of one ``make bench`` run as one table.

Reads the JSON lines that :func:`rows.emit` appended to ``ROWS_FILE``
(``bench/run.sh`` passes the file it set as ``BENCH_ROWS``) and prints them
in plain aligned columns, under the machine's load average and core count.

Usage: python bench/table.py ROWS_FILE
"""
import argparse
import json
import math
import os

COLUMNS = ("figure", "this project", "baseline", "ratio", "target", "met")


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
    right = {1, 3}  # this project, ratio
    lines = []
    for line in table:
        lines.append("  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(line, widths))).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows_file", metavar="ROWS_FILE", help="JSON lines written by rows.emit")
    rows = read_rows(parser.parse_args().rows_file)
    one, five, fifteen = os.getloadavg()
    print(f"\n{len(rows)} figures, each a ratio to a baseline measured in the same run; load "
          f"average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min), {os.cpu_count()} cores")
    if rows:
        print("\n".join(render([COLUMNS] + [cells(row) for row in rows])))
    else:
        print("no figures recorded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

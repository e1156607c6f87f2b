"""One row of the ``make bench`` table.

Every benchmark measures a baseline in the same run and reports each figure
through :func:`emit`: it prints the row, and when ``BENCH_ROWS`` names a file
(``bench/run.sh`` sets it), appends the row there as one JSON line, so that
``bench/table.py`` prints all of them as one table at the end.
"""
import json
import os


def emit(figure, ours, baseline, unit, target=None, higher_is_better=True, note=""):
    """Print and record one figure against its same-run baseline.

    Args:
        figure: what is measured, e.g. ``"extraction, 1000 JPEG photos, MobileNet TF"``.
        ours: this project's value (in ``unit``).
        baseline: the baseline's value, measured in the same run (same unit), with
            what it is in ``note`` (e.g. ``"plain loop"``).
        unit: e.g. ``"img/s"`` or ``"ms"``.
        target: the ratio to reach (``ours / baseline``), or None.
        higher_is_better: whether a ratio above ``target`` meets it (else below).
        note: the baseline's name and anything needed to read the row.

    Returns:
        The row as a dict (``ratio``, ``met``: True/False/None).
    """
    ratio = ours / baseline if baseline else float("nan")
    met = None if target is None else (ratio >= target if higher_is_better else ratio <= target)
    row = {"figure": figure, "ours": ours, "baseline": baseline, "unit": unit, "ratio": ratio,
           "target": target, "higher_is_better": higher_is_better, "met": met, "note": note,
           "load": os.getloadavg()[0]}
    want = "" if target is None else f" (target {'>=' if higher_is_better else '<='} {target:g}x:" \
        f" {'met' if met else 'NOT met'})"
    print(f"  {figure}: {ours:.4g} {unit} vs {baseline:.4g} {unit} {note} = {ratio:.2f}x{want}")
    path = os.environ.get("BENCH_ROWS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    return row


def run_ml(cwd, env, *args):
    """Run the real ``ml`` command (the venv's, beside this Python) and time it.

    Args:
        cwd: the project folder to run in.
        env: the environment of the subprocess.
        *args: the command line after ``ml``.

    Returns:
        ``(seconds, cpu_seconds, stdout)``: wall time of the whole process, its
        CPU time (user + system, all threads: steadier than wall time on a
        loaded machine), and what it printed. A failing command ends the
        benchmark with its last lines of stderr.
    """
    import resource
    import subprocess
    import sys
    import time
    from pathlib import Path

    def children_cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("ml")), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode:
        sys.exit(f"ml {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, cpu, done.stdout

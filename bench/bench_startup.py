"""Benchmark the start-up time of the light ``ml`` commands.

Times ``ml help train``, ``ml --help`` and ``ml list`` (in an empty temporary
folder) as subprocesses, best of N wall-clock runs each (after one untimed run), next to the bare
interpreter start-up ``python -c pass`` measured in the same run, and prints
absolute times and the ratio to that baseline. Target: every command under
0.3 s (issue 4), and ``ml help train`` <= 3x the baseline (a row of the
``make bench`` table). Exits 1 when a command fails or misses the 0.3 s target.

Usage: python bench/bench_startup.py [--quick] [--repeat N] [--target SECONDS]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

TARGET_SECONDS = 0.3
TARGET_RATIOS = {"ml help train": 3.0}  # x python -c pass
COMMANDS = (["help", "train"], ["--help"], ["list"])


def ml_command():
    """The ``ml`` script next to this interpreter, else ``python -m vergeml``."""
    script = Path(sys.executable).with_name("ml")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "vergeml"]


def best_of(argv, cwd, repeat, env):
    """Best wall time of ``argv`` over ``repeat`` runs (seconds); fails on a non-zero exit."""
    best = float("inf")
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
        best = min(best, elapsed)
    return best


def emit_rows(times, repeat):
    """One ``make bench`` row per command: its time against ``python -c pass``."""
    baseline = times[0][1]
    for label, seconds in times[1:]:
        rows.emit(f"start-up: {label}, best of {repeat}", seconds * 1000, baseline * 1000, "ms",
                  target=TARGET_RATIOS.get(label), higher_is_better=False,
                  note="python -c pass, empty folder")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (bench-quick)")
    parser.add_argument("--repeat", type=int,
                        help="runs per command, the best is kept (default 10, quick 5)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds per command")
    args = parser.parse_args()
    args.repeat = args.repeat or (5 if args.quick else 10)
    env = dict(os.environ, COLUMNS="100")
    env.pop("VERGEML_DEBUG", None)
    # With it set, modules edited since their .pyc are compiled on every start,
    # which users of an installed ml never see; the untimed first run writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as folder:
        baseline = best_of([sys.executable, "-c", "pass"], folder, args.repeat, env)
        times = [("python -c pass", baseline)]
        for argv in COMMANDS:
            times.append(("ml " + " ".join(argv),
                          best_of(ml_command() + argv, folder, args.repeat, env)))
    print(f"best of {args.repeat} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':<18} {'time':>9} {'x baseline':>11}")
    slow = []
    for label, seconds in times:
        print(f"{label:<18} {seconds * 1000:>6.0f} ms {seconds / baseline:>10.1f}x")
        if label != "python -c pass" and seconds >= args.target:
            slow.append(label)
    print(f"target: under {args.target * 1000:.0f} ms per command: "
          + ("MISSED by " + ", ".join(slow) if slow else "met"))
    emit_rows(times, args.repeat)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())

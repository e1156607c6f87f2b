"""Benchmark the start-up time of the light ``ml`` commands.

Times ``ml help train``, ``ml --help`` and ``ml list`` (in an empty temporary
folder) as subprocesses, best of N wall-clock runs each (after one untimed run), next to the bare
interpreter start-up ``python -c pass`` measured in the same run, and prints
absolute times and the ratio to that baseline. Target: every command under
0.3 s (issue 4). Exits 1 when a command fails or misses the target.

Usage: python bench/bench_startup.py [--repeat N] [--target SECONDS]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.3
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per command (best is kept)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds per command")
    args = parser.parse_args()
    env = dict(os.environ, COLUMNS="100")
    env.pop("VERGEML_DEBUG", None)
    # With it set, modules edited since their .pyc are compiled on every start,
    # which users of an installed ml never see; the untimed first run writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as folder:
        baseline = best_of([sys.executable, "-c", "pass"], folder, args.repeat, env)
        rows = [("python -c pass", baseline)]
        for argv in COMMANDS:
            rows.append(("ml " + " ".join(argv),
                         best_of(ml_command() + argv, folder, args.repeat, env)))
    print(f"best of {args.repeat} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':<18} {'time':>9} {'x baseline':>11}")
    slow = []
    for label, seconds in rows:
        print(f"{label:<18} {seconds * 1000:>6.0f} ms {seconds / baseline:>10.1f}x")
        if label != "python -c pass" and seconds >= args.target:
            slow.append(label)
    print(f"target: under {args.target * 1000:.0f} ms per command: "
          + ("MISSED by " + ", ".join(slow) if slow else "met"))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())

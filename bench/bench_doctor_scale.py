"""The neighbour search of ``ml doctor`` at scale: time and memory, 10,000 and 100,000 rows.

Issue 26's scale target: the nearest neighbours of 100,000 cached feature
vectors in under 60 s with flat memory, 10,000 in well under 30 s, never
quadratic in Python. The data: unit vectors of dimension 256 (float32, the
width of MobileNet a0.25's features), random (the worst case for any index:
no structure to exploit), with :data:`PLANTED` pairs of duplicates (a row and
a slightly noisy copy, cosine about 0.99) to check that the findings still
find them.

Each measurement runs in a fresh child process (this file with ``--child``),
so its peak RSS is its own: the search alone (``neighbours.nearest``, k=10),
and the duplicate and outlier findings on the same features (they share one
search, which they include). Wall and CPU seconds are both printed: the CPU
time is the steadier figure on a machine shared with other work.

Baselines, measured in the same run:

- 10,000 rows: the naive search, the full 10,000 x 10,000 similarity matrix
  in one GEMM and ``argpartition`` over each row;
- 100,000 rows: the full matrix does not fit (40 GB), so the plain chunked
  search (1,000 query rows against all rows, ``argpartition``), timed on the
  first 10,000 queries and multiplied by 10 (its cost is linear in the
  queries).

Run: ``.venv/bin/python bench/bench_doctor_scale.py [--quick]`` (``--quick``:
10,000 rows only). Rows: seconds of the search against the baseline; seconds
of search + duplicates + outliers (absolute targets: 30 s at 10,000, 60 s at
100,000); peak memory above the features against the baseline.
"""
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

DIMS, K, PLANTED, SEED = 256, 10, 50, 0
TARGETS = {10_000: 30.0, 100_000: 60.0}


def vectors(n):
    """``n`` random unit vectors and the planted duplicate pairs ``[(row, copy row)]``."""
    import numpy as np
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((n, DIMS), dtype=np.float32)
    pairs = [(int(a), n - PLANTED + i) for i, a in enumerate(rng.choice(n - PLANTED, PLANTED, replace=False))]
    for a, b in pairs:
        x[b] = x[a] + rng.normal(0, 0.1, DIMS).astype(np.float32) * np.linalg.norm(x[a]) / DIMS ** 0.5
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, pairs


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(what, n):
    """One measurement in this (fresh) process; prints a JSON line."""
    import numpy as np
    x, pairs = vectors(n)
    before = peak_mb()
    clock, cpu = time.perf_counter(), time.process_time()
    result = {}
    if what == "search":
        from vergeml.doctor.neighbours import nearest
        nearest(x, K)
    elif what == "findings":
        result.update(findings(x, pairs))
    elif what == "full-matrix":
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        np.argpartition(-sims, K, axis=1)[:, :K]
    elif what == "chunked":
        queries = min(n, 10_000)
        for start in range(0, queries, 1000):
            sims = x[start:start + 1000] @ x.T
            sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
            np.argpartition(-sims, K, axis=1)[:, :K]
        result["scale"] = n / queries
    result.update(seconds=time.perf_counter() - clock, cpu=time.process_time() - cpu, peak_above_mb=peak_mb() - before)
    print(json.dumps(result))


def findings(x, pairs):
    """Duplicate and outlier findings on the vectors (no image files): time and what was found."""
    import numpy as np

    from vergeml.doctor.audit_data import AuditData
    from vergeml.doctor.duplicates import find_duplicates
    from vergeml.doctor.outliers import find_outliers
    n = len(x)
    data = AuditData(files=[f"samples/c{i % 10}/{i:06d}.jpg" for i in range(n)], labels=np.arange(n) % 10,
                     label_names=[f"c{i}" for i in range(10)], splits=["train"] * n,
                     digests=[str(i) for i in range(n)], features=x, paths=[""] * n)
    found = find_duplicates(data)
    outliers = find_outliers(data)
    wanted = {frozenset((data.files[a], data.files[b])) for a, b in pairs}
    groups = {frozenset(f.files) for f in found if f.kind == "duplicate"}
    return {"planted_found": len(wanted & groups), "other_groups": len(groups - wanted), "outliers": len(outliers)}


def measure(what, n):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", what, str(n)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{what} {n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], int(sys.argv[3]))
    sizes = [10_000] if "--quick" in sys.argv[1:] else [10_000, 100_000]
    features_mb = {n: n * DIMS * 4 / 2 ** 20 for n in sizes}
    for n in sizes:
        search, found = measure("search", n), measure("findings", n)
        naive = measure("full-matrix" if n <= 10_000 else "chunked", n)
        naive_seconds = naive["seconds"] * naive.get("scale", 1)
        how = ("full similarity matrix + argpartition" if n <= 10_000 else
               f"chunked GEMM + argpartition, timed on 10,000 queries x {naive['scale']:.0f}")
        size = f"{n:,} x {DIMS} float32, k={K}"
        print(f"  {size}: search {search['seconds']:.1f} s (CPU {search['cpu']:.1f} s), peak +"
              f"{search['peak_above_mb']:.0f} MB; duplicate + outlier findings {found['seconds']:.1f} s (CPU "
              f"{found['cpu']:.1f} s), peak +{found['peak_above_mb']:.0f} MB, planted duplicates found "
              f"{found['planted_found']}/{PLANTED}, other groups {found['other_groups']}, outliers "
              f"{found['outliers']}; features {features_mb[n]:.0f} MB; naive {naive_seconds:.1f} s (CPU "
              f"{naive['cpu'] * naive.get('scale', 1):.1f} s), peak +{naive['peak_above_mb']:.0f} MB; "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        rows.emit(f"nearest neighbours, {size}", search["seconds"], naive_seconds, "s", target=1.0,
                  higher_is_better=False, note=f"{how}; CPU {search['cpu']:.0f} s vs "
                                               f"{naive['cpu'] * naive.get('scale', 1):.0f} s")
        rows.emit(f"duplicate + outlier findings (one search), {size} "
                  f"(target <= {TARGETS[n]:g} s: {'met' if found['seconds'] <= TARGETS[n] else 'NOT met'})",
                  found["seconds"], naive_seconds, "s", higher_is_better=False,
                  note=f"{how} (search alone); CPU {found['cpu']:.0f} s; planted duplicates found "
                       f"{found['planted_found']}/{PLANTED}, {found['other_groups']} other groups")
        peak = max(search["peak_above_mb"], found["peak_above_mb"])
        rows.emit(f"peak memory above the features, {size}", peak, naive["peak_above_mb"], "MB",
                  target=0.5, higher_is_better=False, note=f"{how}; features {features_mb[n]:.0f} MB")

if __name__ == "__main__":
    main()

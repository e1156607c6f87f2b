"""A loopback Ray cluster of two nodes for the ``--engine=ray`` tests, and real images.

``loopback_cluster()`` starts a head and one more node on this machine with
``ray.cluster_utils.Cluster``; its ``shutdown()`` stops only the processes it
started (never ``ray stop``, which kills every Ray process on the machine).
Sized for a 2-core machine: one CPU per node, so each node holds exactly one
feature actor (0.75 CPU) and the head keeps 0.25 CPU for the read tasks.
"""
import os
import signal
import socket
import time
import warnings
from contextlib import contextmanager

NODE_CPUS = 1
OBJECT_STORE = 150 * 1024 * 1024  # bytes per node: a few batches of small images


@contextmanager
def loopback_cluster():
    """``with loopback_cluster() as address:`` two Ray nodes on this machine; ``HOST:PORT``."""
    # The nodes inherit this process' environment: no usage statistics from them either.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": NODE_CPUS, "include_dashboard": False,
                                      "object_store_memory": OBJECT_STORE})
    raylets = set()
    try:
        cluster.add_node(num_cpus=NODE_CPUS, object_store_memory=OBJECT_STORE)
        cluster.wait_for_nodes(timeout=60)
        raylets = {node.all_processes["raylet"][0].process.pid for node in cluster.list_all_nodes()}
        yield cluster.address
    finally:
        cluster.shutdown()
        deadline = time.monotonic() + 10   # workers still exiting get their time
        while (leftovers := workers_of(raylets)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in leftovers:  # processes this cluster started, by id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # exited just now
        if leftovers:
            warnings.warn(f"killed {len(leftovers)} Ray worker(s) that outlived the test cluster", stacklevel=2)


def workers_of(raylets):
    """Pids of live processes started by one of the ``raylets`` (Ray sets RAY_RAYLET_PID)."""
    wanted = {f"RAY_RAYLET_PID={pid}".encode() for pid in raylets}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted & set(handle.read().split(b"\0")):
                    found.append(int(entry))
        except OSError:
            continue  # gone, or not ours to read
    return found


def face_photos(folder, count=40):
    """``folder/<face|other>/NNN.png``: real 25x25 photos from scikit-image's LFW subset
    (its first 100 are faces, the last 100 are not); half of ``count`` of each."""
    import numpy as np
    import skimage.data
    from PIL import Image
    photos = skimage.data.lfw_subset()
    half = count // 2
    for i in range(count):
        label, index = ("face", i) if i < half else ("other", 100 + i - half)
        path = folder / label / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((photos[index] * 255).round().astype(np.uint8), "L").convert("RGB").save(path)
    return folder


def free_address():
    """``127.0.0.1:PORT`` of a port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"

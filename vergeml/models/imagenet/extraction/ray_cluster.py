"""The Ray cluster of ``--engine=ray``: connecting to it, and how many actors it holds.

Connecting is bounded in time: a gRPC probe of the head's GCS answers (or
not) within :data:`PROBE_TIMEOUT` seconds before ``ray.init``, which on its
own retries an unreachable address for minutes. Nothing phones home: Ray's
usage statistics are off in this process unless the user set
``RAY_USAGE_STATS_ENABLED`` themselves, and no dashboard is started.

Pure helpers (:func:`plan_actors`, :func:`require_ray`) import no Ray.
"""
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from vergeml.errors import VergeMLError

PROBE_TIMEOUT = 5.0
# The CPU share of one read task on the driver's node. Never the whole node: an
# actor pool holding every CPU starves the reads and the dataset hangs
# (ray-project/ray#44687).
READ_CPUS = 0.25
# TensorFlow's intra-op pool scales well on a CNN up to about 4 threads; past
# that, another actor (its own batch, its own single-threaded decoding) gains more.
MAX_ACTOR_THREADS = 4
# A node with less CPU than this left runs no actor.
MIN_ACTOR_CPUS = 0.5
# Set in this process before ray.init, unless already set: no usage statistics
# sent (a CLI must not phone home, and a network that hangs would stall it), and
# no C++ log lines of the driver on the console (Ray prints an error-level note
# about actor restarts for every actor pool; the session's log files keep them).
QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_BACKEND_LOG_LEVEL": "fatal"}


def require_ray(find_spec=None):
    """Raise a one-line error when the ``ray`` extra is not installed."""
    from vergeml.runtimes.extras import require
    require("ray", "--engine=ray", ["ray"], find_spec)


@dataclass(frozen=True)
class Plan:
    """The actor pool for a cluster.

    Attributes:
        actor_cpus: CPUs each actor reserves.
        threads: TensorFlow's intra-op threads in each actor.
        per_node: node id -> how many actors fit on it.
        driver_node: the node the driver runs on (where files are read).
    """

    actor_cpus: float
    threads: int
    per_node: dict
    driver_node: str

    @property
    def size(self):
        """How many actors the pool has."""
        return sum(self.per_node.values())


def plan_actors(node_cpus, driver_node, read_cpus=READ_CPUS, max_threads=MAX_ACTOR_THREADS):
    """Size the actor pool: actors of equal size, as many as fit on every node.

    Each actor reserves ``min(max_threads, CPUs of the smallest usable node)``
    CPUs; the driver's node keeps ``read_cpus`` for the reads.

    Args:
        node_cpus: node id -> CPUs of each alive node.
        driver_node: the driver's node id.
        read_cpus: what the read tasks reserve on the driver's node.
        max_threads: the largest actor, in CPUs.

    Returns:
        :class:`Plan`.

    Raises:
        VergeMLError: the driver's node cannot run reads, or no node can run an actor.
    """
    if node_cpus.get(driver_node, 0) < read_cpus:
        raise VergeMLError(f"this machine's Ray node has no CPU for reading the images (it needs "
                           f"{read_cpus:g}); start it with ray start --num-cpus=1 or more")
    free = {node: cpus - (read_cpus if node == driver_node else 0)
            for node, cpus in node_cpus.items()}
    usable = [cpus for cpus in free.values() if cpus >= MIN_ACTOR_CPUS]
    if not usable:
        raise VergeMLError("the Ray cluster has no node with a free CPU to extract features on")
    actor_cpus = min(float(max_threads), min(usable))
    # The epsilon keeps 1.0 // (1/3)-style float noise from losing an actor.
    per_node = {node: int((cpus + 1e-9) // actor_cpus) for node, cpus in free.items()
                if cpus + 1e-9 >= actor_cpus}
    return Plan(actor_cpus, max(1, round(actor_cpus)), per_node, driver_node)


def cluster_plan(ray):
    """:func:`plan_actors` for the connected cluster (alive nodes only)."""
    cpus = {node["NodeID"]: float(node["Resources"].get("CPU", 0))
            for node in ray.nodes() if node.get("Alive")}
    return plan_actors(cpus, ray.get_runtime_context().get_node_id())


@contextmanager
def connected(address, probe_timeout=PROBE_TIMEOUT, local=False):
    """Connect this process to a Ray cluster for the ``with`` block, then disconnect.

    Disconnecting ends the job: its actors and tasks stop. A process already
    connected (``ray.init`` called by the caller) keeps its connection.

    Args:
        address: ``auto`` or ``HOST:PORT`` of the head node.
        probe_timeout: seconds the head has to answer.
        local: start a Ray of this process' own on this machine instead (a search
            with no ``--ray-address``), stopped with the block.

    Yields:
        the ``ray`` module.

    Raises:
        VergeMLError: Ray is not installed, or the cluster cannot be reached.
    """
    require_ray()
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)  # a user's own setting wins
    import ray
    if ray.is_initialized():
        yield ray
        return
    target = "local" if local else resolve_address(address)
    if not local:
        probe(target, probe_timeout, shown=address)
    try:
        with _silenced_stderr():  # Ray's C++ start-up lines; failures still raise
            ray.init(address=target, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise VergeMLError(f"cannot connect to the Ray cluster at {target}: {_first_line(err)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def resolve_address(address):
    """``HOST:PORT`` of the cluster: as given, or for ``auto`` the one this machine runs.

    Raises:
        VergeMLError: ``auto`` and no cluster runs on this machine.
    """
    if address != "auto":
        return address
    # Ray's own look-up (RAY_ADDRESS, then the cluster ray start left on this machine).
    from ray._private.services import canonicalize_bootstrap_address_or_die
    try:
        return canonicalize_bootstrap_address_or_die("auto")
    except ConnectionError as err:
        what = "several Ray clusters run on this machine" if "multiple" in str(err).lower() \
            else "no Ray cluster runs on this machine"
        raise VergeMLError(f"--ray-address=auto: {what}", hint="Start one with ray start --head, "
                           "or name one with --ray-address=HOST:PORT.") from None


def probe(address, timeout=PROBE_TIMEOUT, shown=None):
    """Ask the GCS at ``address`` for its cluster id, within ``timeout`` seconds.

    Args:
        address: ``HOST:PORT``.
        timeout: seconds for connecting and for the answer.
        shown: how the error names the address (default ``address``).

    Raises:
        VergeMLError: no answer, refused, or not a Ray head.
    """
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    name = shown if shown not in (None, "auto") else address
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout)
    except grpc.FutureTimeoutError:
        raise VergeMLError(f"cannot reach the Ray cluster at {name}: no connection within "
                           f"{timeout:g} s (is ray start --head running there?)") from None
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.UNAUTHENTICATED:
            return  # a Ray head with token authentication: ray.init passes the token
        raise VergeMLError(f"no Ray cluster at {name}: {err.code().name.lower()} "
                           f"({_first_line(err.details() or '')})") from None
    finally:
        channel.close()


class _silenced_stderr:
    """Point file descriptor 2 at /dev/null (Ray's native code writes there directly)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved, self.null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.null)


def _first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__

"""Whether a ``running`` instance's process is still alive.

A run records its pid and host name; a dead pid on this host means the run
crashed. On Linux ``/proc`` also catches zombies and pids reused by a newer
process. Nothing here can tell about processes on another host.
"""
import functools
import os
import sys
from pathlib import Path


@functools.lru_cache(maxsize=1)
def hostname():
    """This machine's host name (cached: stored in and compared with metadata).

    Returns:
        str, as :func:`socket.gethostname` gives it.
    """
    if sys.platform.startswith("linux"):
        # The same text: glibc and musl answer gethostname() from uname() on
        # Linux. Importing socket costs ml list about 3 ms.
        return os.uname().nodename
    import socket
    return socket.gethostname()


def _process_alive(pid, host, created_at=None):
    """Whether the run's process may still be alive.

    Only a process on this host can be checked; on another host (shared
    trainings folder) the run is assumed alive.

    Args:
        pid: the stored pid (anything not a positive int is trusted as alive).
        host: the stored host name, or None.
        created_at: epoch seconds the run was created, to detect pid reuse.

    Returns:
        False only when the process is known to be gone.
    """
    if host and host != hostname():
        return True
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True  # nothing to check: trust the stored status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return True
    return not _zombie_or_reused(pid, created_at)


def _zombie_or_reused(pid, created_at):
    """On Linux: an unreaped zombie, or a pid reused by a process that
    started after the run was created. Anything unreadable counts as alive.

    Args:
        pid: an existing process id.
        created_at: epoch seconds the run was created (not a number: skip
            the reuse check).

    Returns:
        True when the pid no longer stands for the run's process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            return True
        if not isinstance(created_at, (int, float)):
            return False
        ticks = os.sysconf("SC_CLK_TCK")
        started = _boot_time() + int(fields[19]) / ticks
        return started > created_at + 5  # slack for clock granularity
    except (OSError, ValueError, IndexError):
        return False


@functools.lru_cache(maxsize=1)
def _boot_time():
    """Epoch seconds of the last boot, from ``/proc/stat``.

    Returns:
        int.

    Raises:
        OSError, ValueError: no ``/proc/stat`` or no ``btime`` line in it.
    """
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise ValueError("no btime")

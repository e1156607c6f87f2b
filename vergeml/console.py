"""The one way ``ml`` warns: ``Warning: <message>`` on stderr.

Every module calls :func:`warn`, so all warnings read alike and tests capture
them with pytest's ``capsys`` (they go to ``sys.stderr`` as it is at call time).
"""
import sys


def warn(message):
    """Print ``Warning: <message>`` on stderr.

    Args:
        message: one line, without the ``Warning:`` prefix.
    """
    print(f"Warning: {message}", file=sys.stderr, flush=True)

"""Exceptions that the CLI turns into one-line messages and exit codes."""


class VergeMLError(Exception):
    """A failure the user can act on: printed as one line, no traceback.

    Args:
        message: what went wrong, in one line.
        hint: an optional second line telling the user what to do.
        exit_code: process exit status (1 runtime failure, 2 usage/config error).
    """

    exit_code = 1

    def __init__(self, message, hint=None, exit_code=None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(VergeMLError):
    """Bad command line: unknown command or option, bad value, missing argument."""

    exit_code = 2


class ConfigError(VergeMLError):
    """Bad project file (vergeml.yaml) or bad configuration value."""

    exit_code = 2


class RunFailed(VergeMLError):
    """One training run failed for a reason of its own (its loss diverged), not one
    every run shares: a grid records it and goes on with its next run."""

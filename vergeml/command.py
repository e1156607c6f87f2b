"""Old import path of the command plugin base, kept for one release:
use :mod:`vergeml.commands.command_base`."""
from vergeml.commands.command_base import ONE_INSTANCE, Command, check_arity, lookup

__all__ = ["ONE_INSTANCE", "Command", "check_arity", "lookup"]

"""Old import path of the command plugin base, kept for one release:
use :mod:`vergeml.commands.command_base`."""
from vergeml.commands.command_base import *  # noqa: F401,F403
from vergeml.commands.command_base import Command  # noqa: F401

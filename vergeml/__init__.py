"""VergeML: a command-line tool for transfer learning on images."""

__version__ = "0.2.0"

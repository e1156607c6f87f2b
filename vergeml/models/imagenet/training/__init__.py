"""``ml train`` and ``ml @name resume``: data, head, phases, checkpoints, resume."""

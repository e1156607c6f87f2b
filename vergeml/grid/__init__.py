"""Grids of training runs: planning the combinations, running them one by one."""

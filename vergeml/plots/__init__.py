"""Charts of an instance's stored test-split predictions (``ml @name plot:<kind>``).

:mod:`vergeml.plots.metrics` computes the numbers (scikit-learn),
:mod:`vergeml.plots.drawing` draws them (matplotlib) and
:mod:`vergeml.plots.plot_commands` holds the ``vergeml.plot`` sub-command plugins.
"""

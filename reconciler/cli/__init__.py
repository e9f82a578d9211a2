"""The ``poolform`` command line: one module per command; only this layer talks to the user."""

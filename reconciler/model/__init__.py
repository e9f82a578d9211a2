"""Desired and observed state: the values the pure core (``plan/``) works on.

``state.py`` holds the plain dataclasses shared by every step; ``document.py``
is the config file format (pydantic, extra keys forbidden), which ``config/``
turns into a :class:`~reconciler.model.state.DesiredState`.
"""

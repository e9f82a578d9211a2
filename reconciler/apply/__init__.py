"""Executing a plan document against the server (``executor``) and reporting progress (``hooks``).

Nothing here decides what to change; it runs the plan's ``steps`` as written.
"""

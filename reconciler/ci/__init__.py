"""The CI side of poolform: pull-request comments, labels and drift issues on GitHub and GitLab.

``forge.py`` holds what both do (find our comment by its marker, pick the outcome label, open,
update or close the drift issue) over a small :class:`~reconciler.ci.forge.Forge` interface;
``github.py`` and ``gitlab.py`` speak each REST API with httpx (every list paginated). Takes
rendered markdown and plan JSON as input; renders nothing itself and never talks to Prefect.
"""

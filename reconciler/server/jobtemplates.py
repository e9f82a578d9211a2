"""The request models' view of the base job template rules: :func:`check_structure` raises
``ValueError`` so pydantic answers Prefect's 422 validation error (prefect-api.md §5.2).

The rules themselves (structure, placeholders, schema, defaults, job variables) live in
``reconciler.template_rules``, shared with the reconciler; the domain calls it directly. Must
not import anything else outside the server.
"""

from __future__ import annotations

from typing import Any

from reconciler.template_rules import structure_problem


def check_structure(template: dict[str, Any] | None) -> dict[str, Any] | None:
    """Shape and placeholder checks (create and PATCH). Returns the template unchanged."""
    if template is None:
        return template
    problem = structure_problem(template)
    if problem is not None:
        raise ValueError(problem[1])
    return template

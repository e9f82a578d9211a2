"""Views: render the plan document (a JSON dict) and diagnostics as human text, JSON or markdown.

Views read only the plan JSON, never the Python ``Plan``, and compute nothing the JSON lacks.
"""

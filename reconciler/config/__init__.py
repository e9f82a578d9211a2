"""Config files -> desired state (YAML, HCL, overlays), and live state -> config (``import``).

Entry points: ``reconciler.config.load.load`` (files -> ``DesiredState`` + diagnostics) and
``reconciler.config.export.export_config`` (``ObservedState`` -> YAML text).
"""

"""poolform: Prefect work pools, work queues and base job templates as code.

The package is named ``reconciler``; the distribution and the CLI are ``poolform``.
Keep this module import-free: ``poolform --version`` must start fast.
"""

__version__ = "0.1.0"

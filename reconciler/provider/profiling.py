"""``POOLFORM_PROVIDER_PROFILE=DIR``: a cProfile of one provider process, every thread, for debugging.

Terraform starts the provider itself (three times a plan) and its RPCs run on gRPC's worker
threads, which ``python -m cProfile`` does not see. When the variable names a directory,
:func:`start` profiles the calling thread and every thread started after it, and :func:`stop`
merges them into ``DIR/provider-<pid>.pstats`` (read it with ``python -m pstats``). Times are
each thread's CPU time, so waits (a lock, the GIL, the network) are not counted. Unset, this
module is never imported. A directory that cannot be written is reported on stderr and the
provider serves on. Nothing secret is in a profile: function names and timings only.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

ENV = "POOLFORM_PROVIDER_PROFILE"

_profiles: list[Any] = []
_lock = threading.Lock()


def _new_profile() -> Any:
    import cProfile
    import time

    profile = cProfile.Profile(time.thread_time)  # CPU time of the thread: waits for a lock or the GIL not counted
    with _lock:
        _profiles.append(profile)
    profile.enable()
    return profile


def _in_new_thread(frame: Any, event: str, arg: Any) -> None:
    """``threading.setprofile`` hook: on a new thread's first event, hand the thread to cProfile."""
    sys.setprofile(None)
    _new_profile()


def start() -> None:
    """Profile this thread and every thread started from now on."""
    threading.setprofile(_in_new_thread)
    _new_profile()


def stop(directory: str) -> None:
    """Merge the threads' profiles into ``directory/provider-<pid>.pstats``."""
    import pstats

    threading.setprofile(None)  # type: ignore[arg-type]
    with _lock:
        profiles = list(_profiles)
    stats: Any = None
    for profile in profiles:
        profile.disable()
        profile.create_stats()
        if not profile.stats:
            continue
        if stats is None:
            stats = pstats.Stats(profile)
        else:
            stats.add(profile)
    if stats is None:
        return
    path = os.path.join(directory, f"provider-{os.getpid()}.pstats")
    try:
        stats.dump_stats(path)
    except OSError as exc:
        sys.stderr.write(f"{ENV}: cannot write {path}: {exc}\n")

"""Debian's headless Chromium and its WebDriver, for the status page's browser test.

Owns: finding ``chromium`` and ``chromedriver`` (Debian's ``chromium`` and ``chromium-driver``
packages, or the paths in ``POOLFORM_CHROMIUM`` / ``POOLFORM_CHROMEDRIVER``) and installing the
two packages with apt-get when either is missing (as root, or through ``sudo -n``). When they
cannot be found nor installed it raises :class:`BrowserUnavailable` saying why and what to do:
the test that needs the browser fails then, it never skips. Must not download a browser build of
its own (only Debian's packages) nor touch anything else on the machine.

As a module: ``chromium, driver = ensure_browser()``. As a script (``.ci/run`` calls it before
``make test``): ``python3 scripts/browser.py`` prints both paths, installing them when missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT_S = 900
_BROWSERS = ("chromium", "chromium-browser")
_DRIVERS = ("chromedriver",)
_DRIVER_DIRS = ("/usr/bin", "/usr/lib/chromium")


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing and could not be installed."""


def _find(env: str, names: tuple[str, ...], dirs: tuple[str, ...] = ()) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for folder in dirs:
            path = Path(folder) / name
            if os.access(path, os.X_OK):
                return str(path)
    return None


def find_browser() -> tuple[str | None, str | None]:
    """(chromium, chromedriver) paths, None for whichever is missing."""
    return _find("POOLFORM_CHROMIUM", _BROWSERS), _find("POOLFORM_CHROMEDRIVER", _DRIVERS, _DRIVER_DIRS)


def _install() -> None:
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable(
            "chromium and chromium-driver are missing and there is no apt-get to install them; install Chromium "
            "and its chromedriver, and set POOLFORM_CHROMIUM and POOLFORM_CHROMEDRIVER to their paths")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
            raise BrowserUnavailable(
                "chromium and chromium-driver are missing and this user cannot install them (not root, no "
                "password-less sudo); run `sudo apt-get install chromium chromium-driver`")
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    for command in (["apt-get", *lock, "update", "-q"],
                    ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run([*prefix, *command], env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise BrowserUnavailable(f"`{' '.join(command)}` failed (exit {done.returncode}): " + " | ".join(tail))


def ensure_browser() -> tuple[str, str]:
    """(chromium, chromedriver), installing Debian's packages when either is missing."""
    browser, driver = find_browser()
    if browser is None or driver is None:
        _install()
        browser, driver = find_browser()
    if browser is None or driver is None:
        missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
        raise BrowserUnavailable(f"{' and '.join(missing)} still missing after installing {' '.join(PACKAGES)}")
    return browser, driver


def main() -> int:
    try:
        browser, driver = ensure_browser()
    except (BrowserUnavailable, subprocess.TimeoutExpired) as exc:
        print(f"browser: {exc}", file=sys.stderr)
        return 1
    print(f"chromium: {browser}\nchromedriver: {driver}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

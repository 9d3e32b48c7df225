#!/usr/bin/env python3
"""Headless Chromium for the report's browser checks: Debian's ``chromium`` and ``chromium-driver``.

    python3 scripts/chromium.py install     # as root; prints the browser's and the driver's paths

``install`` apt-gets the packages when /usr/bin/chromium or /usr/bin/chromedriver is missing (the package
lists are refreshed first), each apt-get step under a deadline, and prints how long it took. The tests
(tests/test_report_browser.py) and ``python -m reno_exp.report.bench`` call the same ``install``, so a
fresh machine gets the browser on first use and never from anywhere but Debian's archive. ``FLAGS`` are
the command-line switches every headless session here uses: as root Chromium needs ``--no-sandbox``;
the others stop it reaching for the network (updates, sync, QUIC) on a machine that has none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

PACKAGES = ("chromium", "chromium-driver", "fonts-dejavu-core")  # fonts: text in screenshots on a bare image
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")
UPDATE_S, INSTALL_S = 300, 900  # apt-get's deadlines: a stuck mirror ends in one line, not a hung test run


class ChromiumUnavailable(RuntimeError):
    """Chromium cannot be installed on this machine (the reason is the message)."""


def missing() -> list[str]:
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]


def unavailable_reason() -> str | None:
    """Why this machine cannot have the browser, in one line; None when it can (perhaps after an install)."""
    if not missing():
        return None
    if shutil.which("apt-get") is None:
        return f"{', '.join(missing())} missing and there is no apt-get to install {' '.join(PACKAGES)}"
    if os.geteuid() != 0:
        return f"{', '.join(missing())} missing; installing {' '.join(PACKAGES)} with apt-get needs root"
    return None


def apt(cmd: list[str], timeout: float) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tail = (e.stdout or b"")[-2000:]
        raise ChromiumUnavailable(f"{' '.join(cmd)} took over {timeout:.0f} s: {tail!r}") from None
    if done.returncode:
        raise ChromiumUnavailable(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}")


def install(log=print) -> float:
    """apt-get the packages when the browser or its driver is missing; the seconds it took (0: nothing to do)."""
    if not missing():
        return 0.0
    reason = unavailable_reason()
    if reason:
        raise ChromiumUnavailable(reason)
    start = time.monotonic()
    log(f"installing {' '.join(PACKAGES)} with apt-get ({', '.join(missing())} missing)")
    apt(["apt-get", "update", "-qq"], UPDATE_S)
    apt(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], INSTALL_S)
    if missing():
        raise ChromiumUnavailable(f"still missing after apt-get install: {', '.join(missing())}")
    seconds = time.monotonic() - start
    log(f"installed {' '.join(PACKAGES)} in {seconds:.0f} s")
    return seconds


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["install"]:
        print("usage: python3 scripts/chromium.py install", file=sys.stderr)
        return 2
    try:
        install(log=lambda m: print(m, file=sys.stderr))
    except ChromiumUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"chromium: {CHROMIUM}\nchromedriver: {CHROMEDRIVER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

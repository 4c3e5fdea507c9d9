"""Headless Chromium (Debian's package), driven by Playwright, for the `orch ui` page tests.

Playwright's own browser downloads are never used: it launches /usr/bin/chromium, which
this fixture installs with apt-get when it is missing (CI runs as root on a Debian
machine); anything else is a loud failure saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a
# closed network refuses many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVICE_OF_FIXTURE: dict[str, str] = {}


def chromium_path() -> str:
    """Debian's Chromium, installed on first use where apt-get can."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:  # a stale package index: refresh it once
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        if done.returncode == 0 and os.path.exists(CHROMIUM):
            return CHROMIUM
        pytest.fail(f"apt-get install chromium failed:\n{done.stderr[-2000:]}", pytrace=False)
    pytest.fail(
        f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)",
        pytrace=False,
    )
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (pages are opened per test)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()

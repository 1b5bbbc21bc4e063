"""Programs, libraries and fonts on the machine that some tests need.

A test asks with `@pytest.mark.needs("poppler", …)` (or `require(...)` in a fixture). Outside CI a
missing one skips the test, with what to install as the reason in the summary; in CI (`CI` set) it
fails, because `.ci/run` installs every system package docs/configuration.md lists.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess

import pytest


def _chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _poppler() -> bool:
    return bool(shutil.which("pdftoppm") and shutil.which("pdftotext"))


def _cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _harfbuzz_subset() -> bool:
    # Loaded the way WeasyPrint loads it, so a library that is listed but unreadable counts as
    # missing.
    try:
        ctypes.CDLL("libharfbuzz-subset.so.0")
    except OSError:
        return False
    return True


def _redis_server() -> bool:
    return bool(shutil.which("redis-server"))


# name: (check, what to install, why the tests need it)
TOOLS = {
    "chromium": (_chromium, "chromium", "browser tests drive headless Chromium"),
    "poppler": (_poppler, "poppler-utils", "PDF checks read pages with pdftotext and pdftoppm"),
    "cjk-font": (
        _cjk_font,
        "fonts-noto-cjk",
        "letters to Chinese and Korean names need a CJK font",
    ),
    "harfbuzz-subset": (
        _harfbuzz_subset,
        "libharfbuzz-subset0",
        "without it WeasyPrint subsets fonts with fontTools, which stamps them with the time, "
        "so a rebuilt PDF is not byte-identical",
    ),
    "redis-server": (
        _redis_server,
        "redis-server",
        "reliability tests start and stop their own Redis on a free port (outages, killed workers)",
    ),
}


@functools.cache
def available(name: str) -> bool:
    check = TOOLS[name][0]
    return bool(check())


def require(name: str) -> None:
    """Skip (outside CI) or fail (in CI) the running test when `name` is missing."""
    if available(name):
        return
    _, package, why = TOOLS[name]
    message = f"needs {package} ({why}): apt-get install {package}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run installs it")
    pytest.skip(message)


def chromium_path() -> str:
    require("chromium")
    path = _chromium()
    assert path is not None
    return path

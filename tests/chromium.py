"""Headless Chromium for tests that look at a page as a person would.

``.ci/run`` installs Chromium and ``fonts-noto-cjk``. Import from a test module (pytest puts
``tests/`` on ``sys.path``)::

    from chromium import needs_chromium, png_size, screenshot

    @needs_chromium
    def test_page(tmp_path): screenshot(html_path, png_path, profile=tmp_path / "profile")

Each call gets its own profile directory, so parallel test workers do not share one; the
flags keep Chromium off the network (no component updates, sync or QUIC).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

__all__ = ["ARTIFACTS", "chromium_binary", "needs_chromium", "png_size", "run", "screenshot"]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
"""Where rendered pages are kept for a person to look at (ignored by git)."""

A4_WINDOW = (1240, 1754)
"""A window of A4 proportions (1:√2) at about 150 dpi."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_binary() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


needs_chromium = pytest.mark.skipif(
    chromium_binary() is None,
    reason="Chromium is not installed (apt-get install -y chromium fonts-noto-cjk)",
)
"""Skip a test when Chromium is missing (CI installs it, so there it always runs)."""


def screenshot(
    page: Path, png: Path, *, profile: Path, window: tuple[int, int] = A4_WINDOW
) -> Path:
    """Render the local HTML file ``page`` to ``png`` and return ``png``.

    Raises ``subprocess.CalledProcessError`` (with Chromium's output) if Chromium fails and
    ``AssertionError`` if no PNG was written.
    """
    png.unlink(missing_ok=True)
    run(
        f"--screenshot={png}",
        f"--window-size={window[0]},{window[1]}",
        page.resolve().as_uri(),
        profile=profile,
    )
    assert png.exists(), f"Chromium wrote no screenshot for {page}"
    return png


def run(*args: str, profile: Path) -> None:
    """Run headless Chromium with the offline flags, a fresh ``profile`` and ``args``.

    Raises ``subprocess.CalledProcessError`` (with Chromium's output) if Chromium fails.
    """
    binary = chromium_binary()
    assert binary is not None, "Chromium is not installed"
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=180)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file, read from its header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)

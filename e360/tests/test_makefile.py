"""``make chromium`` (run by ``make test`` and ``.ci/run``): installs Chromium as root with apt, says how otherwise.

The target runs for real; only apt-get is a stand-in script that records how it was called, and ``CHROMIUM`` points
to a path that does or does not exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def apt_get(tmp_path):
    """An apt-get that logs its arguments to ``calls`` and succeeds."""
    calls = tmp_path / "calls"
    script = tmp_path / "apt-get"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    script.chmod(0o755)
    return script, calls


def make_chromium(chromium: Path, apt_get: Path, *, as_nobody: bool = False) -> subprocess.CompletedProcess:
    command = ["make", "-s", "--no-print-directory", "chromium", f"CHROMIUM={chromium}", f"APT_GET={apt_get}"]
    if as_nobody:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_present_chromium_installs_nothing(tmp_path, apt_get):
    script, calls = apt_get
    result = make_chromium(Path(shutil.which("sh")), script)
    assert result.returncode == 0, result.stderr
    assert not calls.exists()


def test_missing_chromium_without_a_way_to_install_stops_with_the_command(tmp_path):
    result = make_chromium(tmp_path / "chromium", tmp_path / "no-apt-get")
    assert result.returncode != 0
    assert f"The browser tests need Chromium at {tmp_path / 'chromium'}" in result.stderr
    assert "sudo apt-get install -y chromium" in result.stderr


def test_missing_chromium_as_a_plain_user_stops_with_the_command_and_runs_no_apt(tmp_path, apt_get):
    script, calls = apt_get
    tmp_path.chmod(0o777)  # the log would be writable by the plain user: apt-get must not even be tried
    result = make_chromium(tmp_path / "chromium", script, as_nobody=os.geteuid() == 0)
    assert result.returncode != 0
    assert "sudo apt-get install -y chromium" in result.stderr
    assert not calls.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root (CI runs as root)")
def test_missing_chromium_as_root_is_installed_with_apt(tmp_path, apt_get):
    script, calls = apt_get
    result = make_chromium(tmp_path / "chromium", script)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["update", "install -y chromium"]

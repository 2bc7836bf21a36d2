"""The production stack's launcher (flows/launcher.py): it forks flow runs from the code it imported at start,
and stops doing so once the code on disk changed, so a deploy never runs yesterday's code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

CODE = ("pressroom", "channels", "flows", "templates", "prefect.yaml", "pressroom.toml")


def _copy_project(dest: Path) -> None:
    for name in CODE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)


def _start_launcher(project: Path, sock: Path, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "flows.launcher", "serve", str(sock)], cwd=project,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "ready on" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the launcher never said it was ready"
        time.sleep(0.1)
    return proc


def _run(project: Path, sock: Path, profiles: Path) -> subprocess.CompletedProcess:
    """The worker's flow-run command, for a run id Prefect's engine refuses (it exits 1 either way). A forked
    run leaves its profile in ``profiles``; a fresh interpreter does not."""
    env = {**os.environ, "PRESSROOM_LAUNCHER": str(sock), "PRESSROOM_LAUNCHER_PROFILE": str(profiles)}
    return subprocess.run([sys.executable, "-S", str(project / "flows" / "launcher.py"), "not-a-run-id"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_runs_are_forked_until_the_code_on_disk_changes_then_start_fresh(tmp_path):
    project, profiles = tmp_path / "project", tmp_path / "profiles"
    project.mkdir()
    profiles.mkdir()
    _copy_project(project)
    sock, log = tmp_path / "launcher.sock", tmp_path / "launcher.log"
    proc = _start_launcher(project, sock, log)
    try:
        first = _run(project, sock, profiles)
        assert first.returncode == 1 and "Invalid flow run id" in first.stderr + first.stdout
        assert len(list(profiles.iterdir())) == 1, "the first run was not forked from the launcher"

        edited = project / "channels" / "weibo.py"
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# deployed later\n", encoding="utf-8")
        for _ in range(2):
            again = _run(project, sock, profiles)
            assert again.returncode == 1 and "Invalid flow run id" in again.stderr + again.stdout
        assert len(list(profiles.iterdir())) == 1, "a run was forked from code that is no longer on disk"
        assert log.read_text().count("the code on disk changed") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not sock.exists()

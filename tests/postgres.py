"""PostgreSQL for the tests, as production runs it: ``scripts/stack.sh`` (Debian's package, 127.0.0.1, a private
folder, free ports). ``Stack`` is the whole layout (``run("db")``: PostgreSQL only, the ledger migrated;
``run("start", n)``: the Prefect server and n workers too); ``postgres()`` is PostgreSQL alone for a test
module. Without PostgreSQL installed (``scripts/system-deps.sh --test``) the tests that use them skip
(``PG_BINS`` is empty)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """scripts/stack.sh in a private folder, on free ports, with the environment the workers get."""

    def __init__(self, workspace: Path, env: dict[str, str]):
        self.dir = Path(tempfile.mkdtemp(prefix="pressroom-stack-"))
        self.dir.chmod(0o755)  # PostgreSQL runs as "postgres" when the tests run as root
        self.pg_port, self.prefect_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PRESSROOM_"))}
        self.env.update(env, STACK_DIR=str(self.dir), PG_PORT=str(self.pg_port), PREFECT_PORT=str(self.prefect_port),
                        PYTHON=sys.executable, WORKER_LIMIT="6", PREFECT_SERVER_UI_ENABLED="false",
                        PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_SERVER_ANALYTICS_ENABLED="false")
        self.api_url = f"http://127.0.0.1:{self.prefect_port}/api"
        self.ledger_url = f"postgresql+psycopg://pressroom@127.0.0.1:{self.pg_port}/pressroom"
        self.workspace = workspace

    def run(self, *args: str, timeout: float = 300) -> str:
        res = subprocess.run(["bash", str(ROOT / "scripts" / "stack.sh"), *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"stack.sh {' '.join(args)}:\n{res.stdout}\n{res.stderr}\n{self.logs()}"
        return res.stdout

    def logs(self, tail: int = 40) -> str:
        out = []
        for p in sorted((self.dir / "logs").glob("*.log")):
            lines = p.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {p.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def psql(self, sql: str, database: str = "postgres") -> str:
        psql = Path(PG_BINS[-1]).parent / "psql"
        return subprocess.run([str(psql), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "pressroom", "-d",
                               database, "-tAc", sql], check=True, capture_output=True, text=True).stdout.strip()

    def settings(self):
        """Prefect client settings pointing at this stack's server (a context manager)."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def url(self, database: str) -> str:
        """The URL of another database of this cluster (``psql("create database …")`` first)."""
        return self.ledger_url.rsplit("/", 1)[0] + "/" + database


@contextmanager
def postgres():
    """PostgreSQL alone (``scripts/stack.sh db``), stopped and removed afterwards."""
    workspace = Path(tempfile.mkdtemp(prefix="pressroom-pg-"))
    s = Stack(workspace, {})
    try:
        s.run("db")
        yield s
    finally:
        s.run("stop", timeout=120)
        shutil.rmtree(s.dir, ignore_errors=True)
        shutil.rmtree(workspace, ignore_errors=True)

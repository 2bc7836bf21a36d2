"""The flow-run launcher of the production stack's process workers (README "Production"): a long-lived
process that has imported Prefect and the flows once, and forks a copy of itself for each flow run, instead
of the worker starting a new interpreter that imports them all again (about 3 CPU-seconds a run).

Two halves in this one file:

- ``python -m flows.launcher serve SOCKET`` — the server, started beside each worker by scripts/stack.sh. It
  imports the flows of prefect.yaml and listens on a Unix socket.
- ``python -S flows/launcher.py [ARGS]`` — the work pool's flow-run command, run by the worker for each flow
  run instead of ``python -m prefect.engine [ARGS]``. It imports the standard library only (a few
  milliseconds), hands the run (its arguments, environment, working directory, standard streams) to the
  server named by ``PRESSROOM_LAUNCHER``, passes on the signals it gets (the worker's SIGTERM to cancel or stop)
  and ends as the run ends (its exit code, or the signal that killed it), so to the worker it is the flow-run
  process. Without a launcher (the variable unset, the socket not answering) it becomes
  ``python -m prefect.engine`` itself: nothing is lost but time.

A fork runs the code the server imported. Once the code on disk differs from it (a deploy, an edit), the server
forks no more runs: each client is told so and starts ``python -m prefect.engine``, which imports the code as it
is now, until the launcher is restarted (`scripts/stack.sh workers N` restarts it with its worker).

The forked run starts as ``python -m prefect.engine`` would: the environment the worker gave the run, Prefect's
settings read again from it, then Prefect's engine (which loads the flow from its deployment as usual). If the
client goes away (the worker killed it), the server kills its run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

ENV = "PRESSROOM_LAUNCHER"  # the server's socket, in the worker's (and so each run's) environment
HEADER = struct.Struct("!I")
PROFILE_ENV = "PRESSROOM_LAUNCHER_PROFILE"  # a folder: each forked run writes its cProfile there (bench/soak.py)


# -- the client: the flow-run command ---------------------------------------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("launcher closed the connection")
        data += chunk
    return data


def _engine(args: list[str]) -> None:
    """Become ``python -m prefect.engine ARGS`` (no launcher to hand the run to)."""
    os.execv(sys.executable, [sys.executable, "-m", "prefect.engine", *args])


def client(args: list[str]) -> None:
    path = os.environ.get(ENV)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if not path:
            raise OSError("no launcher")
        sock.connect(path)
        payload = json.dumps({"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(sock, [HEADER.pack(len(payload))], [0, 1, 2])
        sock.sendall(payload)
        (pid,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
    except OSError:
        pid = 0
    if pid == 0:  # no launcher, or one whose imported code is no longer the code on disk
        sock.close()
        _engine(args)
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda signum, _frame: _forward(pid, signum))
    try:
        status = int(_read_line(sock))
    except (OSError, ValueError):
        sys.exit(1)
    if status < 0:  # killed by a signal: die of the same one, as the run did
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status)


def _read_line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        data += _recv_exact(sock, 1)
    return data.decode().strip()


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


# -- the server -------------------------------------------------------------------------------------

def preload() -> None:
    """Import what every flow run imports: Prefect's engine and the flows of prefect.yaml with what they
    use, so a forked run finds them loaded."""
    import importlib
    from pathlib import Path

    import yaml

    from pressroom import runtime

    runtime.configure()
    import prefect.engine  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import prefect.task_engine  # noqa: F401
    from prefect.deployments import steps  # noqa: F401

    root = Path(__file__).resolve().parent.parent
    for d in yaml.safe_load((root / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]:
        importlib.import_module(".".join(Path(d["entrypoint"].partition(":")[0]).with_suffix("").parts))
    import channels

    for name in channels.names():
        channels.adapter(name)
    for name in ("pressroom.sites.site", "pressroom.transports", "prefect.client.schemas.actions",
                 "prefect.client.schemas.filters", "prefect.concurrency.sync", "PIL.Image",
                 "prefect.utilities.visualization"):  # the last: what calling a flow imports
        importlib.import_module(name)
    from channels.base import template_env

    template_env()  # Jinja and the channels' template environment
    _preload_ledger_driver()


def _preload_ledger_driver() -> None:
    """The database driver of the ledger the settings name (psycopg and SQLAlchemy's PostgreSQL dialect on
    the production stack): a quarter of a second that each run would otherwise spend before its ledger
    opens, on an emergency's way to its first channel."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from pressroom.settings import SettingsError, load_settings

    try:
        make_url(load_settings().ledger_url).get_dialect().import_dbapi()
    except (SettingsError, ArgumentError, ImportError):
        pass  # settings, a ledger URL or a driver that does not work: each run reports it itself


CODE = ("pressroom", "channels", "flows", "templates", "prefect.yaml")  # what a run imports or reads at import


def code_state(root: str) -> tuple:
    """Each file of the project's code with its size and modification time: differs once any is changed."""
    files = []
    for top in CODE:
        path = os.path.join(root, top)
        if os.path.isfile(path):
            files.append(path)
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")  # bytecode follows the sources
            files += [os.path.join(folder, name) for name in sorted(names)]
    state = []
    for f in files:
        try:
            st = os.stat(f)
        except FileNotFoundError:
            continue
        state.append((f, st.st_size, st.st_mtime_ns))
    return tuple(state)


class Server:
    """The accept loop: one forked child per connection, its exit status sent back when it ends."""

    def __init__(self, path: str, root: str | None = None):
        self.path = path
        self.pid = os.getpid()
        self.runs: dict[int, socket.socket] = {}  # child pid -> its client's connection
        self.stopping = False
        self.root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.code = code_state(self.root)  # taken after preload: the code the forks will run
        self.stale = False

    def serve(self):
        """Run until SIGTERM; returns the run to start (in a forked child) or None (the server stopping)."""
        import selectors

        if os.path.exists(self.path):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(64)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, "accept")
        sel.register(wake_r, selectors.EVENT_READ, "wake")
        print(f"launcher: ready on {self.path}", flush=True)
        try:
            while not (self.stopping and not self.runs):
                for key, _ in sel.select(timeout=1.0):
                    if key.data == "wake":
                        os.read(wake_r, 512)
                    elif key.data == "accept" and not self.stopping:
                        job = self._accept(listener, sel)
                        if job is not None:  # this is the child now
                            for fd in (wake_r, wake_w):
                                os.close(fd)
                            sel.close()
                            return job
                    elif key.data != "accept":
                        self._client_gone(key.data, sel)
                self._reap(sel)
        finally:
            if os.getpid() == self.pid:
                listener.close()
                os.unlink(self.path)
        return None

    def _accept(self, listener: socket.socket, sel):
        import selectors

        conn, _ = listener.accept()
        try:
            conn.settimeout(10)
            msg, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
            (n,) = HEADER.unpack(msg)
            request = json.loads(_recv_exact(conn, n))
        except (OSError, ValueError, struct.error) as e:
            print(f"launcher: bad request: {e}", flush=True)
            conn.close()
            return None
        if self.stale or code_state(self.root) != self.code:
            if not self.stale:
                print("launcher: the code on disk changed since start; runs start a fresh interpreter "
                      "until the launcher is restarted", flush=True)
            self.stale = True
            for fd in fds:
                os.close(fd)
            try:
                conn.sendall(HEADER.pack(0))  # the client starts prefect.engine itself
            except OSError:
                pass
            conn.close()
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            for other in self.runs.values():
                other.close()
            listener.close()
            conn.close()
            return {**request, "fds": fds}
        try:
            os.setpgid(pid, pid)  # (the child does so too: whichever comes first)
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        conn.settimeout(None)
        conn.sendall(HEADER.pack(pid))
        self.runs[pid] = conn
        sel.register(conn, selectors.EVENT_READ, pid)
        return None

    def _reap(self, sel) -> None:
        while self.runs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.runs.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            sel.unregister(conn)
            try:
                conn.sendall(f"{code}\n".encode())
            except OSError:
                pass
            conn.close()

    def _client_gone(self, pid: int, sel) -> None:
        """The client's connection said something or closed: it can only have closed (killed): so is its run."""
        conn = self.runs.get(pid)
        if conn is None:
            return
        try:
            data = conn.recv(1)
        except OSError:
            data = b""
        if data:
            return
        sel.unregister(conn)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_child(job: dict) -> int:
    """In the forked child: become the flow-run process the worker asked for, and run Prefect's engine."""
    import runpy

    os.setpgid(0, 0)  # its own group: killed with whatever it starts if its client goes away
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(job["fds"]):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    sys.argv = [sys.argv[0], *job["argv"]]
    import prefect.context

    prefect.context.refresh_global_settings_context()  # the run's own settings, from its environment
    if not (profile_dir := os.environ.get(PROFILE_ENV)):
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        return 0
    import cProfile

    with cProfile.Profile() as prof:
        try:
            runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        finally:
            prof.dump_stats(os.path.join(profile_dir, f"run-{os.getpid()}.prof"))
    return 0


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        preload()
        job = Server(sys.argv[2]).serve()
        if job is not None:
            sys.exit(run_child(job))  # a normal interpreter exit: threads joined, atexit run, streams flushed
        return
    client(sys.argv[1:])


if __name__ == "__main__":
    main()

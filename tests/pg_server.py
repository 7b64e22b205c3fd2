"""A PostgreSQL server of a test's own, to stop, hang and restart without touching the suite's shared one."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Iterator


def pg_bin() -> Path | None:
    """Return the newest installed PostgreSQL bin directory, or None when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name))
    return Path(found[-1]) if found else None


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A throwaway PostgreSQL cluster in ``root`` listening on 127.0.0.1:``port``, run as the postgres user."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.bin = pg_bin()
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql+psycopg://app@127.0.0.1:{port}/app"
        self.running = False

    def _run(self, tool: str, *args: str) -> None:
        """Run one PostgreSQL program as the server's owner."""
        assert self.bin is not None
        subprocess.run([*self.as_pg, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        """Create the cluster and its database, and leave the server running."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if self.as_pg:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.root / "data"), "-U", "app", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
        )
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "app", "app")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        data, log = str(self.root / "data"), str(self.root / "server.log")
        self._run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start")
        self.running = True

    def stop(self) -> None:
        """Stop the server, ending every session (as a restart of the database host does)."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        self.running = False

    def destroy(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def hung_listener(port: int) -> Iterator[socket.socket]:
    """Listen on ``port`` and never answer: the kernel accepts connections that then wait forever."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        yield sock

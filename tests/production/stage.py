"""The production-shaped stage: the processes README "Production" lists, started on this machine.

nginx (TLS, the README's server block) in front of two ``gunicorn -w 2 wsgi:app`` processes standing for two
hosts, a PostgreSQL database of the stage's own, a private Redis server for the task queues and the sign-in
counters, two ``huey_consumer`` processes (urgent alerts; dry runs) and an SMTP sink. Every process runs on a free local port with its log in the
stage's folder; every wait is bounded and fails with the log of the process that did not come up.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import sqlalchemy as sa

REPOSITORY = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NGINX = Path("/usr/sbin/nginx")
REDIS = Path("/usr/bin/redis-server")
#: How long any process may take to come up (each imports the app: seconds of CPU on a busy two-core machine).
START_SECONDS = 90.0
STOP_SECONDS = 10.0
LOG_TAIL_LINES = 40

#: The README's nginx block names a real clinic's paths and addresses; the stage puts its own in their place.
README_NGINX = re.compile(r"```nginx\n(.*?)```", re.DOTALL)


@dataclass
class Process:
    """One process of the stage, with the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.popen.pid

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the process's log."""
        return tail(self.log, lines)


def tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a log file."""
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class StageError(RuntimeError):
    """A process of the stage did not start, or something the stage waited for never happened."""


@dataclass
class Stage:
    """The processes of the stage, started in order and stopped in reverse, by PID."""

    folder: Path
    processes: list[Process] = field(default_factory=list)
    #: Further logs to show when something fails: access logs, the migration's output.
    files: list[Path] = field(default_factory=list)
    #: What the stage waited for, and when it was there (seconds since the stage started).
    waits: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def start(self, name: str, argv: list[str], env: Mapping[str, str], *, cwd: Path = REPOSITORY) -> Process:
        """Start ``argv`` with its output in ``<folder>/<name>.log``."""
        log = self.folder / f"{name}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def run(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        """Run a command to its end (bounded), its output kept like a process's; fail with that output."""
        process = self.start(name, argv, env)
        self.wait_until(f"{name} finishes", lambda: process.popen.poll() is not None)
        self.processes.remove(process)  # done: no longer watched, never stopped
        self.files.append(process.log)
        if process.popen.returncode != 0:
            raise StageError(f"{' '.join(argv)} exited with {process.popen.returncode}:\n{process.tail()}")

    def wait_until(
        self, what: str, ready: Callable[[], bool], *watched: Process, seconds: float = START_SECONDS
    ) -> None:
        """Wait until ``ready()``; fail with the logs when time runs out or a watched process exits."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if ready():
                    self.waits.append((what, time.monotonic() - self.started))
                    return
            except (OSError, http.client.HTTPException, sa.exc.OperationalError):
                pass
            for process in watched:
                if process.popen.poll() is not None:
                    raise StageError(
                        f"{process.name} exited with {process.popen.returncode} while waiting for {what}:\n"
                        + self.report(watched)
                    )
            if time.monotonic() > deadline:
                raise StageError(f"{what}: not after {seconds:.0f} s\n" + self.report(watched or self.processes))
            time.sleep(0.1)

    def report(self, processes: tuple[Process, ...] | list[Process] | None = None) -> str:
        """Return the tail of each process's log (and, for the whole stage, of every other log)."""
        parts = [
            f"----- {process.name} (pid {process.pid}): {process.log}\n{process.tail()}"
            for process in (processes or self.processes)
        ]
        if not processes:
            parts += [f"----- {log}\n{tail(log)}" for log in self.files]
            parts += ["----- waits", *(f"{at:6.1f} s  {what}" for what, at in self.waits)]
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every process by its PID, the last started first; kill those that do not stop in time."""
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=STOP_SECONDS)


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listening(port: int) -> bool:
    """Return True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- HTTP as the tests' own client ----------------------------------------------------------------


@dataclass
class Reply:
    """A response read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: str


def request(
    port: int,
    method: str,
    path: str,
    *,
    tls: bool = True,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    source: str = "127.0.0.1",
) -> Reply:
    """Send one request to 127.0.0.1:``port`` from the local address ``source`` and read the response."""
    connection: http.client.HTTPConnection
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the stage's certificate is made at test time
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=15, context=context, source_address=(source, 0)
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


# --- Pieces of configuration ----------------------------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Generate a self-signed certificate for 127.0.0.1 and localhost; return (certificate, key)."""
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate, key


def readme_nginx_block(readme: Path = REPOSITORY / "README.md") -> str:
    """Return the nginx configuration the README's production section shows."""
    found = README_NGINX.search(readme.read_text(encoding="utf-8"))
    if found is None:
        raise StageError("README.md has no ```nginx block")
    return found.group(1)


def nginx_config(
    prefix: Path,
    *,
    port: int,
    upstreams: tuple[int, int],
    certificate: Path,
    key: Path,
    access_log: Path,
    error_log: Path,
) -> str:
    """Return nginx.conf: the README's block with this machine's ports and paths, run from ``prefix``."""
    block = readme_nginx_block()
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "server 10.0.0.11:8000;": f"server 127.0.0.1:{upstreams[0]};",
        "server 10.0.0.12:8000;": f"server 127.0.0.1:{upstreams[1]};",
        "/etc/ssl/screening/fullchain.pem": str(certificate),
        "/etc/ssl/screening/privkey.pem": str(key),
        "/var/log/nginx/screening.access.log": str(access_log),
    }
    for old, new in replacements.items():
        if block.count(old) != 1:
            raise StageError(f"README's nginx block should name {old!r} once; update tests/production/stage.py")
        block = block.replace(old, new)
    temp = prefix / "temp"
    indented = "".join(f"    {line}\n" for line in block.splitlines())
    return (
        "daemon off;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {error_log} warn;\n"
        "worker_processes 1;\n"
        "events {}\n"
        "http {\n"
        f"    client_body_temp_path {temp / 'body'};\n"
        f"    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n"
        f"{indented}"
        "}\n"
    )


def nginx_prefix() -> Path:
    """Return a folder for nginx that its worker processes (``nobody`` when started as root) can write in."""
    prefix = Path(tempfile.mkdtemp(prefix="screening-nginx-"))
    prefix.chmod(0o755)
    (prefix / "temp").mkdir(mode=0o777)
    (prefix / "temp").chmod(0o777)
    return prefix


def remove_folder(folder: Path) -> None:
    """Remove a folder the stage made outside pytest's temporary folders."""
    shutil.rmtree(folder, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create (or re-create) the database ``name`` on the server of ``server_url``; return its URL."""
    given = sa.make_url(server_url)
    engine = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop the stage's database, ending any connection left to it."""
    engine = sa.create_engine(sa.make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def production_env(settings: Mapping[str, str]) -> dict[str, str]:
    """Return this process's environment without any SCREENING_* setting, plus ``settings``."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("SCREENING_")}
    return {**inherited, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **settings}


def secret_key() -> str:
    """Return a fresh secret key of production strength."""
    return secrets.token_hex(32)


def children_of(pid: int) -> set[int]:
    """Return the ids of the processes whose parent is ``pid`` (gunicorn's workers)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children

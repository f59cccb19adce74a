"""Throwaway PostgreSQL and Redis servers, and the project's processes running on them.

The fault tests stop, restart and kill servers and workers, so they never use the
machine's shared PostgreSQL and Redis: each server here runs on a free port with its
data in a temporary folder, and is removed afterwards. The project itself runs as it
does in production, in separate processes (management commands, a Celery worker,
gunicorn) pointed at these servers through ``DATABASE_URL`` and ``REDIS_URL``; the
tests look at the rows directly with psycopg.

PostgreSQL's ``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as
the ``postgres`` user, in a folder that user owns.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class Unavailable(Exception):
    """A server could not be made or started; the message says which and why."""


def workspace_make() -> Path:
    """A folder for one run's servers, logs and files; remove it with shutil.rmtree."""
    workspace = Path(tempfile.mkdtemp(prefix="listexp-faults-"))
    workspace.chmod(0o755)  # the postgres user reaches its own folder inside
    return workspace


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, seconds: float, what: str, every: float = 0.05):
    """Poll ``check`` until it returns something true; that value, or TimeoutError."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: still not so after {seconds} s")
        time.sleep(every)


def pg_tool(name: str) -> str:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise Unavailable(f"PostgreSQL's {name} is not installed")
    return found


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own: ``create``, ``start``, ``restart``, ``destroy``."""

    def __init__(self, workspace: Path):
        self.root = workspace / "postgres"
        self.root.mkdir()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise Unavailable(
                f"{' '.join(command[:2])} failed: {done.stderr or done.stdout}"
            )
        return done

    def create(self) -> None:
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.run(
            pg_tool("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        # fsync off: the data is thrown away, and a fast shutdown loses nothing anyway.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self.run(
            pg_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self.run(pg_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """A fast restart: open sessions are cut off and their transactions rolled
        back, as when an operator restarts the server or it fails over."""
        self.stop("fast")
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )


class ThrowawayRedis:
    """A Redis of its own that keeps nothing on disk; ``stop`` loses every key."""

    def __init__(self, workspace: Path):
        self.root = workspace / "redis"
        self.root.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Unavailable("redis-server is not installed")
        log = open(self.root / "redis.log", "a")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self.answers, 10, f"redis on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclass
class Process:
    """A process of the project started by a test, its output kept in a file."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, no cleanup of any kind."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGQUIT: a quick shutdown for Celery and gunicorn alike (no waiting for
        open connections); SIGKILL if that is not over in 20 s."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGQUIT)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Site:
    """The project run against the throwaway servers, as separate processes."""

    workspace: Path
    postgres: ThrowawayPostgres
    redis: ThrowawayRedis
    database: str
    env: dict = field(default_factory=dict)
    started: list[Process] = field(default_factory=list)

    @classmethod
    def on(cls, workspace, postgres, redis, database: str, **env: str) -> "Site":
        base = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        }
        base.update(
            DATABASE_URL=postgres.url(database),
            REDIS_URL=redis.url(),
            TESTING="1",
            VAR_DIR=str(workspace / "var"),
            PYTHONUNBUFFERED="1",
            **env,
        )
        return cls(workspace, postgres, redis, database, env=base)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``manage.py`` with these arguments; fails loudly unless it exits 0."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def python(self, code: str):
        """Run ``code`` in a Django shell of the site; the JSON it prints last."""
        lines = self.manage("shell", "-c", code).stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def query(self, sql: str, params=()) -> list[tuple]:
        with self.postgres.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()

    def value(self, sql: str, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def spawn(
        self, name: str, command: list[str], track: bool = True, **env: str
    ) -> Process:
        """Start ``command``; unless ``track`` is false, ``stop_all`` stops it."""
        log = self.workspace / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        if track:
            self.started.append(process)
        return process

    def worker(
        self, name: str, pool: str = "solo", ready: bool = True, **env: str
    ) -> Process:
        """A Celery worker on the site's queue; with ``ready``, once it says in its
        log that it takes tasks."""
        process = self.spawn(
            name,
            [
                sys.executable, "-m", "celery", "-A", "survey", "worker",
                f"--pool={pool}", "--concurrency=1", "-Q", self.env["CELERY_QUEUE"],
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel=INFO", f"--hostname={name}@%h",
            ],
            **env,
        )  # fmt: skip
        if ready:
            wait_until(
                lambda: (
                    "ready." in process.output() or process.popen.poll() is not None
                ),
                60,
                f"worker {name} ready",
                every=0.1,
            )
            assert process.popen.poll() is None, process.output()
        return process

    def web(self, name: str = "web", workers: int = 2) -> "WebServer":
        """gunicorn serving the project, as the README's deployment runs it; stop it
        with ``process.stop()``."""
        port = free_port()
        process = self.spawn(
            name,
            [
                sys.executable, "-m", "gunicorn", "survey.wsgi",
                "-b", f"127.0.0.1:{port}", "-w", str(workers), "--threads", "2",
                "--timeout", "60", "--graceful-timeout", "1",
            ],
            track=False,
        )  # fmt: skip
        server = WebServer(process, f"http://127.0.0.1:{port}")
        wait_until(server.answers, 60, "gunicorn answering", every=0.1)
        return server

    def stop_all(self, since: int = 0) -> str:
        """Stop the processes started since the ``since``-th; their output, to show
        when a test failed."""
        report = []
        for process in reversed(self.started[since:]):
            process.stop()
            report.append(f"----- {process.name} -----\n{process.output()[-20000:]}")
        del self.started[since:]
        return "\n".join(reversed(report))


@dataclass
class WebServer:
    process: Process
    base: str

    def answers(self) -> bool:
        if self.process.popen.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.process.output()}")
        try:
            with socket.create_connection(
                ("127.0.0.1", int(self.base.rsplit(":", 1)[1])), timeout=1
            ):
                return True
        except OSError:
            return False

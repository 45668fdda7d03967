"""A throw-away PostgreSQL server for the tests: initdb into a temporary folder, listening on 127.0.0.1 and a
private unix socket only, with trust authentication for one user.

PostgreSQL refuses to run as root, so when the tests run as root (as CI does) the server runs as the
`postgres` user of the distribution's package (or `nobody`). The binaries are found on PATH or in
/usr/lib/postgresql/*/bin (Debian's postgresql package; .ci/run installs it).

PostgresServer.unavailable() says why no server can start here (no binaries, no psycopg), or None.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Optional


def _bin_dir() -> Optional[str]:
    found = shutil.which("pg_ctl")
    if found and os.path.exists(os.path.join(os.path.dirname(found), "initdb")):
        return os.path.dirname(os.path.realpath(found))
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "pg_ctl")) and os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    USER = "genn"

    @staticmethod
    def unavailable() -> Optional[str]:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed (pip install 'genn-eventprop[search-pg]')"
        if _bin_dir() is None:
            return "no PostgreSQL server binaries (pg_ctl, initdb) here (apt-get install postgresql)"
        if os.geteuid() == 0 and not _unprivileged_user():
            return "running as root and there is no unprivileged user (postgres or nobody) to run PostgreSQL as"
        return None

    def __init__(self):
        self.bin = _bin_dir()
        self.root = tempfile.mkdtemp(prefix="genn-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = os.path.join(self.root, "socket")
        os.makedirs(self.socket_dir)
        self.log = os.path.join(self.root, "server.log")
        self.port = _free_port()
        self.user = _unprivileged_user() if os.geteuid() == 0 else None
        if self.user:
            for path in (self.root, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args, check=True):
        def demote():
            if self.user:
                os.setgid(self.user.pw_gid)
                os.setuid(self.user.pw_uid)
        return subprocess.run([os.path.join(self.bin, args[0]), *args[1:]], preexec_fn=demote, check=check,
                              capture_output=True, text=True, cwd=self.root, timeout=120)

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", self.data, "-U", self.USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        self._pg_ctl("start")
        import psycopg
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE search")
        return self

    def _pg_ctl(self, action: str, *extra):
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        r = self._run("pg_ctl", action, "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, *extra,
                      check=False)
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed: {r.stdout} {r.stderr} {self.server_log()[-2000:]}")

    def restart(self):
        """A fast restart: every client connection is cut, the data is kept."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self):
        try:
            self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w", check=False)
        finally:
            time.sleep(0.2)
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "search") -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{db}"

    def server_log(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""


def _unprivileged_user():
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None

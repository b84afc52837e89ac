"""A private, restartable redis-server on a free loopback port, optionally with AUTH and TLS."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.ports import free_port, wait_until
from tests.support.system_packages import ensure_commands


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl."""
    ensure_commands({"openssl": "openssl"})
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return TLSFiles(ca=ca, cert=cert, key=key)


@dataclass
class RedisServer:
    """``start()``, ``stop()`` and ``restart()`` keep the same port, so clients can reconnect."""

    password: str | None = None
    tls: bool = False
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-test-")))
    process: subprocess.Popen[bytes] | None = None
    tls_files: TLSFiles | None = None

    def __post_init__(self) -> None:
        ensure_commands({"redis-server": "redis-server"})
        if self.tls:
            self.tls_files = make_tls_files(self.workdir)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        kwargs: dict[str, object] = {"socket_timeout": 2, "socket_connect_timeout": 2}
        if self.tls_files is not None:
            kwargs.update(ssl_ca_certs=str(self.tls_files.ca))
        return redis.Redis.from_url(self.url, **kwargs)  # type: ignore[arg-type]

    def start(self) -> RedisServer:
        args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--maxmemory-policy", "noeviction"]
        if self.tls_files is not None:
            args += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", str(self.tls_files.cert), "--tls-key-file", str(self.tls_files.key),
                     "--tls-ca-cert-file", str(self.tls_files.ca), "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(lambda: bool(self.client().ping()), 10, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextmanager
    def hung(self) -> Iterator[None]:
        """Redis frozen with SIGSTOP for the ``with`` block: it accepts connections and answers nothing
        (a half-open connection, a stalled failover); SIGCONT on the way out, even when the block fails."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} is not running: start() it before hung()")
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def broker_env(redis: RedisServer) -> dict[str, str]:
    """REDIS_URL (and REDIS_CA_FILE for TLS) that point a service process at ``redis``."""
    env = {"REDIS_URL": redis.url}
    if redis.tls_files is not None:
        env["REDIS_CA_FILE"] = str(redis.tls_files.ca)
    return env

"""Worker variants for benchmarks (b), (c) and (d), and how to publish to them and see them finish.

Each variant gets its own pair of Redis databases (broker, results) on one private redis-server, so
several can run side by side and be measured alternately without reading each other's queues.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from api.celery_message import MessageBuilder
from celery import Celery
from task_contract import BrokerSettings, celery_connection_config

from benchmarks.fixtures import seed000
from benchmarks.stack import (
    PYTHON,
    BenchmarkError,
    Process,
    ScratchDir,
    base_env,
    free_port,
    http_ok,
    redis_client,
    redis_url,
    wait_for,
)
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

# kombu's Redis transport keeps priorities in extra lists next to each queue (docs/metrics.md).
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass(frozen=True)
class VariantSpec:
    """What to run: ``kind`` is ``ours`` (python -m worker), ``defaults`` or ``seed000``."""

    name: str
    kind: str
    description: str
    pool: str | None = None
    concurrency: int | None = None
    stores_results: bool = True
    env: tuple[tuple[str, str], ...] = ()  # extra environment, e.g. (("LOG_LEVEL", "WARNING"),)
    with_probe: bool = False  # ours only: also load benchmarks/fixtures/pickup_probe.py
    overrides: tuple[tuple[str, Any], ...] = ()  # ours only: Celery settings changed (investigations)


class HelperWorker:
    """tests/support/worker_process.py's WorkerProcess, seen through the interface of stack.Process."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.log_path = worker.log_path

    @property
    def pid(self) -> int:
        return self.worker.pid

    def check_alive(self) -> None:
        if not self.worker.alive():
            raise BenchmarkError(f"worker exited early\n{self.worker.describe()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.worker.output().splitlines()[-lines:])

    def stop(self) -> None:
        self.worker.kill()  # keeps the log, unlike cleanup()


@dataclass
class RunningVariant:
    spec: VariantSpec
    process: Process | HelperWorker
    broker_url: str
    results_url: str
    client: Celery
    queues: dict[str, str]  # task name -> queue it is published to
    _broker: Any = field(default=None, repr=False)
    _results: Any = field(default=None, repr=False)

    @property
    def broker(self) -> Any:
        if self._broker is None:
            self._broker = redis_client(self.broker_url)
        return self._broker

    @property
    def results(self) -> Any:
        if self._results is None:
            self._results = redis_client(self.results_url)
        return self._results

    def publish(self, task: str, n: int, kwargs: dict[str, Any]) -> list[str]:
        ids = []
        with self.client.producer_or_acquire() as producer:
            for _ in range(n):
                result = self.client.send_task(task, kwargs=kwargs, queue=self.queues[task], producer=producer)
                ids.append(result.id)
        return ids

    def publish_backlog(self, task: str, n: int, kwargs: dict[str, Any]) -> None:
        """``n`` tasks at once, as the API publishes them (its MessageBuilder), LPUSHed in batches.

        The same list entries as ``publish`` at a fraction of its CPU (~0.05 against ~1.5 ms a task
        here): the publisher shares the 2 cores with the worker under test, and on Cloud Run it
        runs elsewhere. Only for our worker's queues (the builder routes by our task contract).
        """
        if self.spec.kind != "ours":
            self.publish(task, n, kwargs)
            return
        builder = MessageBuilder(self.client)
        pipe = self.broker.pipeline(transaction=False)
        for index in range(n):
            queue, entry = builder.build(task, kwargs, self.queues[task], str(uuid.uuid4()))
            pipe.lpush(queue, entry)
            if index % 500 == 499:
                pipe.execute()
        pipe.execute()

    def pending(self) -> int:
        """Messages not yet handed to a task: queued (all priority lists) plus reserved/unacked."""
        pipe = self.broker.pipeline(transaction=False)
        for queue in set(self.queues.values()):
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
        pipe.hlen("unacked")
        return int(sum(pipe.execute()))

    def stored_results(self) -> int:
        return int(self.results.dbsize())

    def wait_done(self, n: int, timeout: float, poll: float = 0.005) -> None:
        """Until nothing is pending and, where results are stored, ``n`` results exist."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0 and (not self.spec.stores_results or self.stored_results() >= n):
                return
            time.sleep(poll)
        self.process.check_alive()
        raise BenchmarkError(
            f"{self.spec.name}: not done after {timeout:.0f}s (pending={self.pending()}, "
            f"results={self.stored_results()}/{n}); last lines of {self.process.log_path}:\n{self.process.tail()}"
        )

    def reset_results(self) -> None:
        self.results.flushdb()


def _client(name: str, config: dict[str, Any]) -> Celery:
    app = Celery(f"bench-client-{name}", set_as_current=False)
    # The publisher only sends: no result backend, so no per-task pub/sub subscription.
    app.conf.update({k: v for k, v in config.items() if not k.startswith("result_")}, result_backend=None)
    return app


def start_variant(spec: VariantSpec, server: RedisServer, db_pair: int, scratch: ScratchDir) -> RunningVariant:
    broker_url, results_url = redis_url(server, 2 * db_pair), redis_url(server, 2 * db_pair + 1)
    env = base_env()
    health_url: str | None = None
    if spec.kind == "ours":
        env.update(REDIS_URL=broker_url, RESULT_BACKEND_URL=results_url, **dict(spec.env))
        if spec.pool:
            env["WORKER_POOL"] = spec.pool
        if spec.concurrency:
            env["WORKER_CONCURRENCY"] = str(spec.concurrency)
        settings = BrokerSettings(redis_url=broker_url, result_backend_url=results_url)
        client = _client(spec.name, celery_connection_config(settings))
        queues = {"add": "high", "external_call": "default", "bench.pickup_probe": "high"}
        if spec.with_probe or spec.overrides:
            port = free_port()
            env.update(PORT=str(port), BENCH_WITH_PROBE="1" if spec.with_probe else "0",
                       BENCH_CELERY_OVERRIDES=json.dumps(dict(spec.overrides)))
            argv = [PYTHON, "-m", "benchmarks.fixtures.worker_variant"]
            health_url = f"http://127.0.0.1:{port}/healthz"
        else:
            # The worker engineers' own launcher (python -m worker), which waits for /healthz 200.
            overrides = {k: v for k, v in env.items() if k.startswith(("REDIS_", "RESULT_", "WORKER_", "LOG_"))}
            overrides.setdefault("LOG_LEVEL", "INFO")  # the worker's default; the helper sets it too
            worker = WorkerProcess(env=overrides, log_path=scratch.log(spec.name))
            try:
                worker.start(timeout=60)
            except BaseException:
                worker.kill()
                raise
            running = RunningVariant(spec, HelperWorker(worker), broker_url, results_url, client, queues)
            _warm_up(running)
            return running
    elif spec.kind in ("defaults", "seed000"):
        env["BENCH_BROKER_URL"] = broker_url
        if spec.stores_results:
            env["BENCH_RESULT_BACKEND_URL"] = results_url
        module = f"benchmarks.fixtures.{'celery_defaults' if spec.kind == 'defaults' else 'seed000'}"
        argv = [PYTHON, "-m", "celery", "-A", module, "worker", "--loglevel", "WARNING", "-n", f"{spec.name}@%h"]
        if spec.pool:
            argv += ["--pool", spec.pool]
        if spec.concurrency:
            argv += ["--concurrency", str(spec.concurrency)]
        config: dict[str, Any] = {"broker_url": broker_url}
        if spec.kind == "seed000":
            config = {**seed000.CONFIG, "broker_url": broker_url}
        client = _client(spec.name, config)
        queues = {"add": "celery", "external_call": "celery"}
    else:
        raise ValueError(f"unknown worker kind {spec.kind!r}")
    process = Process(spec.name, argv, env, scratch.log(spec.name)).start()
    running = RunningVariant(spec, process, broker_url, results_url, client, queues)
    try:
        if health_url is not None:
            wait_for(lambda: http_ok(health_url), 60, f"{spec.name} health endpoint {health_url}", process)
        _warm_up(running)
    except BaseException:
        process.stop()
        raise
    return running


def _warm_up(running: RunningVariant) -> None:
    """The pool is started and the connections exist before anything is timed."""
    try:
        running.publish("add", 20, {"x": 1, "y": 2})
        running.wait_done(20, timeout=60)
        running.reset_results()
    except BaseException:
        running.process.stop()
        raise


@contextmanager
def running_variants(specs: Sequence[VariantSpec], server: RedisServer,
                     scratch: ScratchDir) -> Iterator[list[RunningVariant]]:
    if len(specs) > 8:  # two of redis-server's 16 databases each
        raise ValueError(f"at most 8 variants side by side, got {len(specs)}")
    with ExitStack() as stack:
        running = []
        for index, spec in enumerate(specs):
            variant = start_variant(spec, server, index, scratch)
            stack.callback(variant.process.stop)
            running.append(variant)
        yield running


def rotated(items: Sequence[Any], round_index: int) -> list[Any]:
    """The variants in a different order each round, so drift on a shared machine hits all alike."""
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])

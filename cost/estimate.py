"""Line items of a stack's monthly cost, idle and under a stated load.

Each entry of ``LINE_ITEMS`` turns validated settings into zero or more ``LineItem``s. To price a
new part of the stack, add its prices to ``prices.yaml`` and one function here, registered under
a new key; docs/cost.md explains it. A sidecar (the metrics collector) is priced with the
workload it runs in, since Cloud Run bills the instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cost.price_table import PriceTable
from cost.stack_file import settings_module


@dataclass(frozen=True)
class Load:
    """The stated load: tasks spread evenly over the queues, each queue's share to its worker group."""

    tasks_per_second: float = 10.0
    task_seconds: float = 1.0
    api_requests_per_task: float = 2.0  # the submit, and one status read
    api_request_seconds: float = 0.05

    def describe(self) -> str:
        return (
            f"{self.tasks_per_second:g} tasks/s of {self.task_seconds:g} s each; "
            f"{self.api_requests_per_task:g} API requests per task of {self.api_request_seconds:g} s each"
        )


@dataclass(frozen=True)
class LineItem:
    key: str
    """Stable id, matched between two versions of a stack for the PR delta."""
    label: str
    size: str
    idle: float
    """USD per month with no traffic."""
    loaded: float
    """USD per month under the stated load."""
    note: str = ""


# ``collectors``: price the metrics collector sidecars the program adds (False for the classic set-up).
ItemEstimator = Callable[[Any, PriceTable, Load, bool], list[LineItem]]


def _gib(memory: str) -> float:
    return float(settings_module().memory_mib(memory)) / 1024


def _per_instance_month(size: Any, cpu_key: str, memory_key: str, prices: PriceTable) -> float:
    per_second = float(size.cpu) * prices.price(cpu_key) + _gib(size.memory) * prices.price(memory_key)
    return per_second * prices.seconds_per_month


def _shape(size: Any) -> str:
    return f"{size.cpu} vCPU / {size.memory}"


def _collector() -> Any:
    # The metrics collector sidecar (infra/monitoring/collector.py) in the API, every worker group
    # and Flower. Cloud Run bills an instance for all its containers, at the instance's billing
    # mode: the sidecar follows the rates its workload pays (docs/cost.md).
    return settings_module().monitoring.COLLECTOR_SIZE


def _monitored_instance_month(size: Any, cpu_key: str, memory_key: str, prices: PriceTable, collectors: bool) -> float:
    """One instance of a workload with a collector sidecar: both containers' limits."""
    own = _per_instance_month(size, cpu_key, memory_key, prices)
    return own + _per_instance_month(_collector(), cpu_key, memory_key, prices) if collectors else own


def _monitored_shape(size: Any, collectors: bool) -> str:
    return f"{_shape(size)} + collector {_shape(_collector())}" if collectors else _shape(size)


def redis_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    redis = settings.redis
    capacity_tier = prices.redis_capacity_tier(redis.memory_size_gb)
    monthly = redis.memory_size_gb * prices.price(f"redis.{redis.tier}.{capacity_tier}") * prices.hours_per_month
    size = f"{redis.tier}, {redis.memory_size_gb} GB ({capacity_tier})"
    return [LineItem("redis", "Memorystore for Redis", size, monthly, monthly)]


def network_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    network = settings.network
    if network.egress == "direct":
        amount = prices.price("direct_egress")
        return [LineItem("egress", "Direct VPC egress", "no connector", amount, amount)]
    connector = network.connector
    monthly = connector.min_instances * prices.price(f"connector.{connector.machine_type}") * prices.hours_per_month
    size = f"{connector.min_instances} × {connector.machine_type} (min instances)"
    note = f"may scale to {connector.max_instances} VMs under throughput; priced at the minimum"
    return [LineItem("egress", "Serverless VPC Access connector", size, monthly, monthly, note)]


def api_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    api = settings.api
    idle_rates = ("run.request.idle_cpu", "run.request.idle_memory")
    idle = api.min_instances * _monitored_instance_month(api.size, *idle_rates, prices, collectors)
    requests_per_second = load.tasks_per_second * load.api_requests_per_task
    busy = requests_per_second * load.api_request_seconds
    # Billed while an instance serves at least one request; requests share an instance up to
    # api.concurrency. So: busy time alone below one instance, packed by concurrency above it.
    active = min(max(busy / api.concurrency, min(1.0, busy)), float(api.max_instances))
    serving = active * _monitored_instance_month(api.size, "run.request.cpu", "run.request.memory", prices, collectors)
    request_fees = requests_per_second * prices.seconds_per_month / 1e6 * prices.price("run.request.requests")
    size = f"{api.min_instances} min instance(s), {_monitored_shape(api.size, collectors)}"
    note = f"{active:.2f} instances serving on average, {requests_per_second:g} requests/s"
    return [LineItem("api", "API (request-based billing)", size, idle, idle + serving + request_fees, note)]


def worker_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    queues = [q for group in settings.workers for q in group.queues]
    items = []
    for group in settings.workers:
        tasks_per_second = load.tasks_per_second * len(group.queues) / len(queues)
        needed = tasks_per_second * load.task_seconds / group.slots  # concurrency x processes
        # A worker pool without autoscaling runs min_instances; a service, or a pool the autoscaler
        # scales on its queue (docs/scaling.md), goes up to max.
        autoscaled = group.autoscaling is not None
        fixed_pool = group.kind == "workerPool" and not autoscaled
        ceiling = group.min_instances if fixed_pool else group.max_instances
        instances = min(max(needed, group.min_instances), ceiling)
        per_instance = _monitored_instance_month(group.size, "run.instance.cpu", "run.instance.memory", prices, collectors)
        kind = "service, CPU always on"
        if group.kind == "workerPool":
            kind = "worker pool, autoscaled on its queue" if autoscaled else "worker pool"
        note = f"needs {needed:.2f} instances"
        if needed > ceiling:
            note += f", has {ceiling}: the queues grow (raise maxInstances)"
        items.append(
            LineItem(
                f"worker:{group.name}",
                f"Worker `{group.name}` ({kind})",
                f"{group.min_instances} × {_monitored_shape(group.size, collectors)}",
                group.min_instances * per_instance,
                instances * per_instance,
                note,
            )
        )
    return items


def secret_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    # The stack's own secrets (see infra/__main__.py), plus one per appSecrets name.
    count = 2 + int(settings.redis.transit_encryption) + len(settings.app_secrets)
    versions = count * prices.assumed("secret_manager.versions_per_secret")
    monthly = versions * prices.price("secret_manager.version")
    return [LineItem("secrets", "Secret Manager", f"{count} secrets, {versions:g} versions", monthly, monthly)]


def registry_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    kept = settings.registry.keep_recent_versions
    stored_gb = prices.assumed("registry.images") * prices.assumed("registry.image_gb") * kept
    monthly = max(0.0, stored_gb - prices.price("registry.free_gb")) * prices.price("registry.storage")
    size = f"~{stored_gb:g} GB ({kept} versions kept per image)"
    return [LineItem("registry", "Artifact Registry storage", size, monthly, monthly)]


def autoscaler_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    # CREMA (infra/autoscaling/autoscaler.py): one instance, 1 vCPU / 512Mi, CPU always on,
    # deployed when any group autoscales on queue depth.
    if not any(group.autoscaling is not None for group in settings.workers):
        return []
    size = settings_module().ContainerSize("1", "512Mi")
    monthly = _per_instance_month(size, "run.instance.cpu", "run.instance.memory", prices)
    note = "one for the stack, whatever the number of autoscaled groups"
    return [LineItem("autoscaler", "Autoscaler (CREMA, service, CPU always on)", f"1 × {_shape(size)}", monthly, monthly, note)]


def _one_always_on_instance(
    key: str, label: str, size: Any, prices: PriceTable, note: str = "", *, collector: bool
) -> list[LineItem]:
    rates = ("run.instance.cpu", "run.instance.memory")
    monthly, shape = _monitored_instance_month(size, *rates, prices, collector), _monitored_shape(size, collector)
    return [LineItem(key, label, f"1 × {shape}", monthly, monthly, note)]


def flower_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    # Flower (flower.enabled, infra/flower_service.py): one instance, CPU always allocated.
    if not settings.flower.enabled:
        return []
    note = "task events also cost the watched groups throughput (docs/benchmarks.md)"
    label = "Flower (service, CPU always on)"
    return _one_always_on_instance("flower", label, settings.flower.size, prices, note, collector=collectors)


def beat_items(settings: Any, prices: PriceTable, load: Load, collectors: bool) -> list[LineItem]:
    # Celery beat (beat.enabled, infra/beat_pool.py): a worker pool of exactly one instance, no collector.
    if not settings.beat.enabled:
        return []
    label = "Celery beat (worker pool, 1 instance)"
    return _one_always_on_instance("beat", label, settings.beat.size, prices, collector=False)


LINE_ITEMS: dict[str, ItemEstimator] = {
    "redis": redis_items,
    "network": network_items,
    "api": api_items,
    "workers": worker_items,
    "autoscaler": autoscaler_items,
    "flower": flower_items,
    "beat": beat_items,
    "secrets": secret_items,
    "registry": registry_items,
}


@dataclass(frozen=True)
class StackEstimate:
    stack: str
    items: tuple[LineItem, ...]
    load: Load

    @property
    def idle(self) -> float:
        return sum(item.idle for item in self.items)

    @property
    def loaded(self) -> float:
        return sum(item.loaded for item in self.items)

    def by_key(self) -> dict[str, LineItem]:
        return {item.key: item for item in self.items}


def estimate(stack: str, settings: Any, prices: PriceTable, load: Load, *, collectors: bool = True) -> StackEstimate:
    """``collectors=False`` leaves out the collector sidecars: the classic set-up collects no metrics."""
    items = tuple(item for estimator in LINE_ITEMS.values() for item in estimator(settings, prices, load, collectors))
    return StackEstimate(stack, items, load)

"""The estimator prices what the stack file deploys, read through the program's settings loader."""

from __future__ import annotations

import pytest
import yaml

from cost.estimate import Load, StackEstimate, estimate
from cost.price_table import load_prices
from cost.stack_file import CostInputError, load_stack_settings, read_working_tree
from tests.cost.stack_files import changed

PRICES = load_prices()
MONTH_S = 730 * 3600


def price(key: str) -> float:
    return PRICES.prices[key].amount


def run_estimate(stack: str, text: str | None = None, load: Load | None = None) -> StackEstimate:
    text = read_working_tree(stack) if text is None else text
    return estimate(stack, load_stack_settings(stack, text, f"Pulumi.{stack}.yaml"), PRICES, load or Load())


def instance_month(cpu: float, gib: float, cpu_key: str, memory_key: str) -> float:
    return MONTH_S * (cpu * price(cpu_key) + gib * price(memory_key))


# The metrics collector sidecar (infra/monitoring/collector.py): 0.25 vCPU, 256 MiB.
COLLECTOR_CPU, COLLECTOR_GIB = 0.25, 0.25


def monitored_month(cpu: float, gib: float, cpu_key: str, memory_key: str) -> float:
    """An instance with a collector sidecar: Cloud Run bills both containers at the instance's rates."""
    return instance_month(cpu + COLLECTOR_CPU, gib + COLLECTOR_GIB, cpu_key, memory_key)


def test_dev_idle_line_by_line() -> None:
    items = run_estimate("dev").by_key()
    worker = monitored_month(1, 1, "run.instance.cpu", "run.instance.memory")
    assert items["redis"].idle == pytest.approx(1 * price("redis.BASIC.M1") * 730)
    assert items["egress"].idle == pytest.approx(2 * price("connector.e2-micro") * 730)
    assert items["api"].idle == 0  # minInstances: 0
    assert items["worker:fast"].idle == pytest.approx(worker)
    assert items["worker:bulk"].idle == pytest.approx(worker)
    # redis-url, api-keys, redis-ca (TLS on); no appSecrets.
    assert items["secrets"].idle == pytest.approx(3 * price("secret_manager.version"))
    assert items["registry"].idle == pytest.approx((2 * 0.2 * 5 - 0.5) * price("registry.storage"))


def test_prod_idle_line_by_line() -> None:
    items = run_estimate("prod").by_key()
    assert items["redis"].idle == pytest.approx(5 * price("redis.STANDARD_HA.M2") * 730)
    assert items["egress"].idle == 0 and items["egress"].label == "Direct VPC egress"
    assert items["api"].idle == pytest.approx(monitored_month(2, 1, "run.request.idle_cpu", "run.request.idle_memory"))
    assert items["worker:fast"].idle == pytest.approx(
        2 * monitored_month(2, 2, "run.instance.cpu", "run.instance.memory")
    )
    # bulk autoscales on its queue from 0 (docs/scaling.md); the autoscaler runs one small instance.
    assert items["worker:bulk"].idle == 0
    assert "worker pool, autoscaled" in items["worker:bulk"].label
    assert items["autoscaler"].idle == pytest.approx(instance_month(1, 0.5, "run.instance.cpu", "run.instance.memory"))
    # One more secret than dev: appSecrets [webhook-signing-key].
    assert items["secrets"].idle == pytest.approx(4 * price("secret_manager.version"))


@pytest.mark.parametrize(
    ("tier", "gb", "price_key"),
    [("BASIC", 4, "redis.BASIC.M1"), ("BASIC", 5, "redis.BASIC.M2"), ("BASIC", 36, "redis.BASIC.M4")],
)
def test_redis_priced_by_tier_and_capacity_tier(tier: str, gb: int, price_key: str) -> None:
    items = run_estimate("dev", changed("dev", "redis", tier=tier, memorySizeGb=gb)).by_key()
    assert items["redis"].idle == pytest.approx(gb * price(price_key) * 730)


def test_connector_machine_type_and_min_instances_vs_direct_egress() -> None:
    bigger = run_estimate(
        "dev",
        changed("dev", "network", connector={"minInstances": 3, "maxInstances": 4, "machineType": "e2-standard-4"}),
    )
    assert bigger.by_key()["egress"].idle == pytest.approx(3 * price("connector.e2-standard-4") * 730)
    direct = run_estimate("dev", changed("dev", "network", egress="direct", connector=None))
    assert direct.by_key()["egress"].idle == 0
    assert run_estimate("dev").idle - direct.idle == pytest.approx(2 * price("connector.e2-micro") * 730)


def test_secrets_follow_transit_encryption_and_app_secrets() -> None:
    text = changed("dev", "redis", transitEncryption=False).replace("appSecrets: []", "appSecrets: [a-key, b-key]")
    assert run_estimate("dev", text).by_key()["secrets"].size.startswith("4 secrets")  # 2 own + 2 app


def test_encrypted_values_in_the_stack_file_are_not_needed() -> None:
    text = read_working_tree("dev") + "  cloudrun-celery:apiKeys:\n    secure: v1:AAAA\n"
    assert run_estimate("dev", text).idle == pytest.approx(run_estimate("dev").idle)


def test_load_scales_worker_services_between_min_and_max() -> None:
    # prod `fast` consumes 2 of the 3 queues: 2/3 of the tasks. 600 tasks/s × 5 s × 2/3 = 2,000 at
    # once, 2 processes × 250 threads = 500 per instance: 4 instances on average, between its 2 and 10.
    load = Load(tasks_per_second=600, task_seconds=5)
    fast = run_estimate("prod", load=load).by_key()["worker:fast"]
    assert fast.loaded == pytest.approx(4 * monitored_month(2, 2, "run.instance.cpu", "run.instance.memory"))
    assert "needs 4.00 instances" in fast.note and "queues grow" not in fast.note
    # 10x that needs 40; maxInstances is 10.
    saturated = run_estimate("prod", load=Load(tasks_per_second=6000, task_seconds=5)).by_key()["worker:fast"]
    assert saturated.loaded == pytest.approx(10 * monitored_month(2, 2, "run.instance.cpu", "run.instance.memory"))
    assert "has 10: the queues grow" in saturated.note


def test_autoscaled_worker_pool_grows_to_its_maximum_under_load() -> None:
    bulk = run_estimate("prod", load=Load(tasks_per_second=60, task_seconds=5)).by_key()["worker:bulk"]
    assert bulk.loaded == pytest.approx(10 * monitored_month(2, 4, "run.instance.cpu", "run.instance.memory"))
    assert "needs 25.00 instances, has 10" in bulk.note  # 20 tasks/s × 5 s / concurrency 4


def test_worker_pool_without_autoscaling_stays_at_its_instance_count_under_load() -> None:
    stack = yaml.safe_load(read_working_tree("prod"))
    bulk = stack["config"]["cloudrun-celery:workers"][1]
    bulk.update(autoscaling="none", minInstances=1)
    del bulk["maxInstances"]
    text = yaml.safe_dump(stack)
    estimate = run_estimate("prod", text, load=Load(tasks_per_second=60, task_seconds=5)).by_key()
    assert estimate["worker:bulk"].loaded == estimate["worker:bulk"].idle
    assert "needs 25.00 instances, has 1" in estimate["worker:bulk"].note
    assert "autoscaler" not in estimate


def test_api_under_load_pays_serving_time_and_requests() -> None:
    load = Load(tasks_per_second=1, task_seconds=1)  # 2 requests/s of 0.05 s: busy 10% of the time
    api = run_estimate("dev", load=load).by_key()["api"]
    serving = 0.1 * monitored_month(1, 0.5, "run.request.cpu", "run.request.memory")
    requests = 2 * MONTH_S / 1e6 * price("run.request.requests")
    assert api.loaded == pytest.approx(serving + requests)


def test_invalid_stack_file_fails_with_the_settings_own_message() -> None:
    with pytest.raises(CostInputError) as error:
        run_estimate("dev", changed("dev", "workers[0]", minInstances=0))
    assert "workers[0].minInstances: got 0" in str(error.value)
    assert "Fix the stack file" in str(error.value)


def test_prod_rules_apply_too() -> None:
    with pytest.raises(CostInputError, match="redis.tier: got 'BASIC'; allowed: STANDARD_HA on the prod stack"):
        run_estimate("prod", changed("prod", "redis", tier="BASIC"))


def test_flower_and_beat_are_priced_as_one_always_on_instance_each_when_enabled() -> None:
    always_on_small = instance_month(1, 0.5, "run.instance.cpu", "run.instance.memory")
    dev = run_estimate("dev").by_key()  # flower.enabled: true
    # Flower has a collector sidecar; beat has none.
    flower = monitored_month(1, 0.5, "run.instance.cpu", "run.instance.memory")
    assert dev["flower"].idle == dev["flower"].loaded == pytest.approx(flower)
    assert "beat" not in dev
    prod = run_estimate("prod").by_key()  # flower.enabled: false, no beat
    assert "flower" not in prod and "beat" not in prod
    entry = {"name": "tick", "everySeconds": 60, "task": "add", "payload": {"x": 1, "y": 2}}
    with_beat = run_estimate("prod", changed("prod", "beat", enabled=True, entries=[entry])).by_key()
    assert with_beat["beat"].idle == with_beat["beat"].loaded == pytest.approx(always_on_small)
    assert "worker pool" in with_beat["beat"].label


def test_collector_sidecars_are_billed_at_their_workloads_rates() -> None:
    collector = COLLECTOR_CPU, COLLECTOR_GIB
    prod = run_estimate("prod", load=Load(tasks_per_second=1, task_seconds=1)).by_key()
    idle_rates = ("run.request.idle_cpu", "run.request.idle_memory")
    always_on = ("run.instance.cpu", "run.instance.memory")
    # The API (request-based): its idle minimum instance pays the idle rates for both containers.
    assert prod["api"].idle - instance_month(2, 1, *idle_rates) == pytest.approx(instance_month(*collector, *idle_rates))
    # ... and while serving, the active rates for both.
    serving = prod["api"].loaded - prod["api"].idle - 2 * MONTH_S / 1e6 * price("run.request.requests")
    active = ("run.request.cpu", "run.request.memory")
    assert serving == pytest.approx(0.1 * (instance_month(2, 1, *active) + instance_month(*collector, *active)))
    # An instance-based worker: two instances, each with its sidecar at the always-on rates.
    fast_plain = 2 * instance_month(2, 2, *always_on)
    assert prod["worker:fast"].idle - fast_plain == pytest.approx(2 * instance_month(*collector, *always_on))
    assert prod["worker:fast"].size == "2 × 2 vCPU / 2Gi + collector 0.25 vCPU / 256Mi"
    # No collector where the program declares none: the autoscaler, beat.
    assert "collector" not in prod["autoscaler"].size
    # The figures come from the program's own constant, not a copy.
    from cost.stack_file import settings_module

    size = settings_module().monitoring.COLLECTOR_SIZE
    assert (float(size.cpu), settings_module().memory_mib(size.memory) / 1024) == collector


def test_the_classic_set_up_is_priced_without_collector_sidecars() -> None:
    from cost.generated_docs import compute

    # A hand-rolled set-up collects no metrics: its one 1 vCPU / 512 MiB worker, nothing more.
    worker = compute().classic.by_key()["worker:worker"]
    assert worker.idle == pytest.approx(instance_month(1, 0.5, "run.instance.cpu", "run.instance.memory"))
    assert "collector" not in worker.size

"""Secret Manager secrets, who may read each, and one service account per workload."""

from __future__ import annotations

from tests.infra.harness import ProgramRun, run_program_full
from tests.infra.stack_resources import (
    ACCOUNT,
    MOCK_AUTH,
    RUN_SERVICE,
    SCHEDULER_JOB,
    SECRET,
    SECRET_IAM,
    SECRET_VERSION,
    env_of,
    stack_file,
    worker_workloads,
)


def _readers(run: ProgramRun) -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {}
    for member in run.of_type(SECRET_IAM):
        assert member.inputs["role"] == "roles/secretmanager.secretAccessor"
        readers.setdefault(member.inputs["secretId"], set()).add(
            member.inputs["member"]
        )
    return readers


def test_each_secret_is_readable_only_by_the_workloads_that_need_it(
    stack_run: ProgramRun,
) -> None:
    prefix = stack_file(stack_run.stack)["namePrefix"]
    project = stack_run.exports["registry_url"].split("/")[1]
    api = f"serviceAccount:{prefix}-api@{project}.iam.gserviceaccount.com"
    workers = {
        f"serviceAccount:{prefix}-wkr-{w['name']}@{project}.iam.gserviceaccount.com"
        for w in stack_file(stack_run.stack)["workers"]
    }
    # Flower (flower.enabled) reads the broker's secrets and nothing else.
    flower = (
        {f"serviceAccount:{prefix}-flower@{project}.iam.gserviceaccount.com"}
        if stack_file(stack_run.stack).get("flower", {}).get("enabled")
        else set()
    )
    readers = _readers(stack_run)
    # The autoscaler (CREMA) reads AUTH and the CA, never the URL (docs/scaling.md).
    autoscaler = {
        f"serviceAccount:{a.inputs['accountId']}@{project}.iam.gserviceaccount.com"
        for a in stack_run.of_type(ACCOUNT)
        if a.name == "autoscaler"
    }
    assert readers[f"{prefix}-api-keys"] == {api}
    assert readers[f"{prefix}-redis-url"] == {api, *workers, *flower}
    assert readers[f"{prefix}-redis-ca"] == {api, *workers, *flower, *autoscaler}
    if autoscaler:
        assert readers[f"{prefix}-redis-auth"] == autoscaler
    by_group = {w["name"]: w for w in stack_file(stack_run.stack)["workers"]}
    for entry in stack_file(stack_run.stack).get("appSecrets", []):
        if isinstance(entry, str):
            assert readers[f"{prefix}-{entry}"] == {api, *workers}
            continue
        expected = {
            api
            if consumer == "api"
            else f"serviceAccount:{prefix}-wkr-{by_group[consumer]['name']}@{project}.iam.gserviceaccount.com"
            for consumer in entry["consumers"]
        }
        assert readers[f"{prefix}-{entry['name']}"] == expected
    assert set(readers) == {s.inputs["secretId"] for s in stack_run.of_type(SECRET)}


def test_no_project_wide_iam_is_granted(stack_run: ProgramRun) -> None:
    # The exceptions: the autoscaler views its own config parameter (Parameter Manager has
    # no per-parameter IAM), under a condition naming that parameter (tests/autoscaling); and each
    # workload writes metrics (Cloud Monitoring grants that only on the project, tests/policy).
    project_iam = [
        r
        for r in stack_run.resources
        if r.type_.lower().startswith("gcp:projects/iam")
        and r.inputs["role"] != "roles/monitoring.metricWriter"
        and not (
            r.inputs["role"] == "roles/parametermanager.parameterViewer"
            and "/parameters/" in r.inputs.get("condition", {}).get("expression", "")
        )
    ]
    assert project_iam == []


def test_every_workload_has_its_own_service_account(stack_run: ProgramRun) -> None:
    accounts = [
        w.inputs["template"]["serviceAccount"]
        for w in [*worker_workloads(stack_run).values()]
    ]
    # The API, the autoscaler, Flower (when enabled) and the Cloud Scheduler jobs' OIDC caller.
    accounts += [
        s.inputs["template"]["serviceAccount"]
        for s in stack_run.of_type(RUN_SERVICE)
        if s.name in ("api", "autoscaler", "flower")
    ]
    accounts += sorted(
        {j.inputs["httpTarget"]["oidcToken"]["serviceAccountEmail"] for j in stack_run.of_type(SCHEDULER_JOB)}
    )
    assert len(set(accounts)) == len(accounts) == len(stack_run.of_type(ACCOUNT))


def test_nothing_sensitive_in_plaintext(stack_run: ProgramRun) -> None:
    for resource in stack_run.resources:
        public = {
            k: v for k, v in resource.inputs.items() if k not in resource.secret_inputs
        }
        assert MOCK_AUTH not in repr(public), resource.urn
        assert "mock-secret-for" not in repr(public), resource.urn
    assert MOCK_AUTH not in repr(stack_run.exports)


def test_app_secret_values_from_secret_config_become_versions() -> None:
    from tests.infra.harness import Secret

    run = run_program_full(
        "dev",
        {
            "appSecrets": ["stripe-key"],
            "appSecretValues": Secret({"stripe-key": "sk_live_abc"}),
            "apiKeys": Secret("key-one,key-two"),
        },
    )
    versions = {r.name: r for r in run.of_type(SECRET_VERSION)}
    assert versions["app-stripe-key"].inputs["secretData"] == "sk_live_abc"
    assert "secretData" in versions["app-stripe-key"].secret_inputs
    assert versions["api-keys"].inputs["secretData"] == "key-one\nkey-two\n"
    (api,) = [s for s in run.of_type(RUN_SERVICE) if s.name == "api"]
    env = env_of(api.inputs["template"]["containers"][0])
    assert env["STRIPE_KEY"] == {
        "secretKeyRef": {"secret": "celery-dev-stripe-key", "version": "1"}
    }
    assert "sk_live_abc" not in repr(api.inputs)


def test_an_app_secret_reaches_only_its_consumers() -> None:
    # Least privilege per secret: the grant and the env var go to the named workloads only.
    run = run_program_full(
        "dev",
        {
            "appSecrets": [
                {"name": "stripe-key", "consumers": ["fast"]},
                {"name": "webhook-key", "consumers": ["api", "bulk"]},
                "shared-key",
            ]
        },
    )
    readers = _readers(run)
    account = "serviceAccount:celery-dev-{}@my-gcp-project-dev.iam.gserviceaccount.com"
    api, fast, bulk = (account.format(n) for n in ("api", "wkr-fast", "wkr-bulk"))
    assert readers["celery-dev-stripe-key"] == {fast}
    assert readers["celery-dev-webhook-key"] == {api, bulk}
    assert readers["celery-dev-shared-key"] == {api, fast, bulk}
    (api_service,) = [s for s in run.of_type(RUN_SERVICE) if s.name == "api"]
    envs = {
        "api": env_of(api_service.inputs["template"]["containers"][0]),
        **{
            name: env_of(w.inputs["template"]["containers"][0])
            for name, w in worker_workloads(run).items()
        },
    }
    holders = {
        var: {w for w, env in envs.items() if var in env}
        for var in ("STRIPE_KEY", "WEBHOOK_KEY", "SHARED_KEY")
    }
    assert holders == {
        "STRIPE_KEY": {"fast"},
        "WEBHOOK_KEY": {"api", "bulk"},
        "SHARED_KEY": {"api", "fast", "bulk"},
    }

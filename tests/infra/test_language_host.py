"""The program runs the way the Pulumi Python language host runs ``main: infra/``."""

from __future__ import annotations

import ast
import importlib.machinery
import subprocess
import sys
from typing import Any

import yaml

from tests.infra.harness import PROGRAM_DIR, PROJECT_NAME, PROJECT_ROOT, ProgramRun


def program_module_names() -> list[str]:
    """The top-level names the program's modules and packages (``settings/``) take on sys.path."""
    modules = {p.stem for p in PROGRAM_DIR.glob("*.py") if p.stem != "__main__"}
    packages = {p.parent.name for p in PROGRAM_DIR.glob("*/__init__.py")}
    return sorted(modules | packages)


def test_project_file_points_the_host_at_infra() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT_NAME
    assert project["main"].rstrip("/") == PROGRAM_DIR.name
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"]
    assert (PROGRAM_DIR / "__main__.py").exists()


def test_program_modules_do_not_shadow_the_standard_library() -> None:
    # The host puts infra/ first on sys.path: infra/secrets.py would replace stdlib `secrets`
    # for every library the program imports.
    clashes = [
        name for name in program_module_names() if name in sys.stdlib_module_names
    ]
    assert clashes == []


def test_program_modules_do_not_shadow_installed_packages() -> None:
    search_path = [
        p for p in sys.path if p and p not in (".", str(PROGRAM_DIR), str(PROJECT_ROOT))
    ]
    clashes = [
        name
        for name in program_module_names()
        if importlib.machinery.PathFinder.find_spec(name, search_path) is not None
    ]
    assert clashes == []


def test_program_has_no_package_init() -> None:
    # runpy.run_path(".") runs __main__.py as a script; the modules are top-level, not a package.
    assert not (PROGRAM_DIR / "__init__.py").exists()


def test_program_ran_from_infra_as_cwd(dev: ProgramRun) -> None:
    # Relative paths would resolve against infra/; the images use absolute paths from the root.
    (image, *_) = dev.of_type("docker:index/image:Image")
    assert image.inputs["build"]["context"] == str(PROJECT_ROOT / "services")


def _literal(node: ast.expr, tables: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in tables:
        return tables[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "frozenset"
    ):
        return frozenset(_literal(node.args[0], tables))
    if isinstance(node, ast.Dict):
        return {
            _literal(k, tables): _literal(v, tables)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    return ast.literal_eval(node)


def _key_tables() -> dict[str, Any]:
    """The ``*_KEYS`` tables of the infra/settings package, read with ast (no import of the program).

    Each component module owns its keys; ``TOP_LEVEL_KEYS`` in ``__init__.py`` refers to them.
    """
    package = PROGRAM_DIR / "settings"
    modules = sorted(package.glob("*.py"), key=lambda p: p.name == "__init__.py")
    tables: dict[str, Any] = {}
    for node in (n for m in modules for n in ast.parse(m.read_text()).body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value
        ):
            name, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        else:
            continue
        if name.endswith("_KEYS"):
            tables[name] = _literal(value, tables)
    return tables


def test_config_reference_documents_every_key() -> None:
    tables = _key_tables()
    expected: set[str] = set()
    nested_containers = {
        "connector": "CONNECTOR_KEYS",
        "maintenanceWindow": "MAINTENANCE_KEYS",
        "budget": "BUDGET_KEYS",
        "rollout": "ROLLOUT_KEYS",
    }
    for key, nested in tables["TOP_LEVEL_KEYS"].items():
        if nested is None:
            expected.add(key)
            continue
        for child in nested:
            if child in nested_containers:
                expected |= {
                    f"{key}.{child}.{leaf}" for leaf in tables[nested_containers[child]]
                }
            else:
                expected.add(f"{key}.{child}")
    expected |= {f"workers[].{leaf}" for leaf in tables["WORKER_KEYS"]}
    expected |= {f"schedules[].{leaf}" for leaf in tables["SCHEDULE_KEYS"]}
    reference = (PROJECT_ROOT / "README.md").read_text()
    documented = {
        line.split("`")[1] for line in reference.splitlines() if line.startswith("| `")
    }
    assert expected - documented == set(), "keys missing from the README's config table"
    assert documented - expected - {"gcp:project", "gcp:region"} == set(), (
        "documented keys the program does not read"
    )


def test_program_imports_only_the_dependency_free_shared_facts() -> None:
    # The Pulumi virtualenv installs task_contract without its service dependencies, so the
    # program must validate against the catalog without importing Celery, kombu or redis.
    # pydantic is the exception, pinned in requirements.txt: schedule payloads are validated
    # against the catalog's payload models at preview time (docs/schedules.md).
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'celery', 'kombu', 'pydantic_settings', 'redis'}:\n"
        "            raise ImportError('the Pulumi program imported ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from tests.infra.harness import run_program_full\n"
        "run = run_program_full('prod')\n"
        "assert run.of_type('gcp:redis/instance:Instance')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]

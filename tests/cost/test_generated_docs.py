"""docs/cost.md and the README's cost table are what the estimator computes now."""

from __future__ import annotations

import shutil
from pathlib import Path

from cost import generated_docs
from cost.price_table import load_prices
from cost.stack_file import PROJECT_ROOT
from tests.cost.stack_files import changed, write


def test_docs_and_readme_match_the_estimator() -> None:
    stale = generated_docs.stale()
    assert stale == [], f"{', '.join(map(str, stale))} disagree with the estimator: run python -m cost --write-docs"


def _copy_of_the_repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    for name in ("README.md", "docs/cost.md", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def test_a_resize_makes_both_stale_until_regenerated(tmp_path: Path) -> None:
    root = _copy_of_the_repo(tmp_path)
    assert generated_docs.stale(root) == []
    write(root / "Pulumi.dev.yaml", changed("dev", "workers[1]", cpu=2, memory="2Gi"))
    assert generated_docs.stale(root) == [root / "README.md", root / "docs" / "cost.md"]

    assert generated_docs.write(root) == [root / "README.md", root / "docs" / "cost.md"]
    assert generated_docs.stale(root) == []
    # Only the generated blocks changed; the prose around them is kept.
    readme, original = (root / "README.md").read_text(), (PROJECT_ROOT / "README.md").read_text()
    assert readme.split(generated_docs.BEGIN)[0] == original.split(generated_docs.BEGIN)[0]
    assert readme.split(generated_docs.END)[1] == original.split(generated_docs.END)[1]
    assert "2 vCPU / 2Gi" in readme.split(generated_docs.BEGIN)[1]


def test_every_price_in_the_table_has_its_unit_date_and_source() -> None:
    doc = (PROJECT_ROOT / "docs" / "cost.md").read_text()
    for price in load_prices().prices.values():
        assert price.unit and price.source.startswith("https://cloud.google.com/")
        assert f"| `{price.key}` | {price.amount:g} | {price.unit} | {price.date} | <{price.source}> |" in doc

"""Which stacks a pull request can change: the JSON list the preview workflow's matrix runs.

    python .github/scripts/preview_stacks.py --base origin/main      # prints stacks=["dev","prod"]

A change to ``Pulumi.<stack>.yaml`` can change that stack only. A change to anything the program,
the images or the policy pack are built from can change every stack. Paths that never reach a
deploy (docs, tests, benchmarks, the bootstrap program) change none.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")
NO_DEPLOY_EFFECT = ("docs/", "tests/", "benchmarks/", "bootstrap/", ".github/", ".ci/")


def all_stacks(root: Path = ROOT) -> list[str]:
    return sorted(m.group(1) for p in root.glob("Pulumi.*.yaml") if (m := STACK_FILE.match(p.name)))


def stacks_changed_by(paths: Iterable[str], existing: list[str]) -> list[str]:
    changed: set[str] = set()
    for path in paths:
        match = STACK_FILE.match(path)
        if match:
            changed.add(match.group(1))
        elif path.startswith(NO_DEPLOY_EFFECT) or (path.endswith(".md") and "/" not in path):
            continue
        else:
            return list(existing)  # shared code, images, policy, requirements: every stack
    return [s for s in existing if s in changed]  # a deleted stack file has nothing to preview


def changed_paths(base: str) -> list[str]:
    out = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="git ref the PR merges into, e.g. origin/main")
    args = parser.parse_args(argv)
    try:
        paths = changed_paths(args.base)
    except subprocess.CalledProcessError as error:
        print(f"git diff against {args.base} failed ({error.stderr.strip()}); "
              "check out with fetch-depth: 0 so the base is there", file=sys.stderr)
        return 2
    print(f"stacks={json.dumps(stacks_changed_by(paths, all_stacks()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m cost: what a stack costs per month, idle and under load, and what a change costs.

    python -m cost --stack prod                              # one stack
    python -m cost                                           # every Pulumi.<stack>.yaml
    python -m cost --stack prod --base origin/main --format markdown   # the PR comment's table
    python -m cost --write-docs                              # regenerate docs/cost.md and the README table

Exit codes: 0 done, 1 --check-docs found stale docs, 2 bad input (the message names the fix).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cost import generated_docs
from cost.estimate import Load, StackEstimate, estimate
from cost.price_table import load_prices
from cost.report import as_text, delta_report, stack_report
from cost.stack_file import (
    PROJECT_ROOT,
    CostInputError,
    load_stack_settings,
    read_at_ref,
    read_working_tree,
    stack_names,
)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a positive number such as 2.5") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _parser() -> argparse.ArgumentParser:
    defaults = Load()
    parser = argparse.ArgumentParser(prog="python -m cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="a stack name (Pulumi.<stack>.yaml); repeat it; default: all")
    parser.add_argument("--base", metavar="REF", help="print the per-item change from the stack files at this git ref")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument(
        "--project-root",
        type=Path,
        default=PROJECT_ROOT,
        help="the checkout holding the stack files (default: this one)",
    )
    parser.add_argument("--tasks-per-second", type=_positive, default=defaults.tasks_per_second)
    parser.add_argument("--task-seconds", type=_positive, default=defaults.task_seconds, help="average task duration")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--write-docs", action="store_true", help="regenerate docs/cost.md and the README cost table")
    docs.add_argument("--check-docs", action="store_true", help="exit 1 when they differ from what is computed now")
    return parser


def _estimate(stack: str, text: str, source: str, load: Load) -> StackEstimate:
    return estimate(stack, load_stack_settings(stack, text, source), load_prices(), load)


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.project_root.resolve()
    if args.write_docs or args.check_docs:
        if args.write_docs:
            changed = generated_docs.write(root)
            print("rewrote " + ", ".join(str(p) for p in changed) if changed else "docs are up to date")
            return 0
        stale = generated_docs.stale(root)
        for path in stale:
            print(f"{path} is stale: run python -m cost --write-docs", file=sys.stderr)
        return 1 if stale else 0
    load = Load(tasks_per_second=args.tasks_per_second, task_seconds=args.task_seconds)
    reports = []
    for stack in args.stack or stack_names(root):
        head = _estimate(stack, read_working_tree(stack, root), f"Pulumi.{stack}.yaml", load)
        if args.base is None:
            reports.append(stack_report(head))
            continue
        base_text = read_at_ref(stack, args.base, root)
        source = f"Pulumi.{stack}.yaml at {args.base}"
        base = None if base_text is None else _estimate(stack, base_text, source, load)
        reports.append(delta_report(head, base, args.base))
    markdown = "\n".join(reports)
    print(markdown if args.format == "markdown" else as_text(markdown), end="")
    return 0


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:]))
    except CostInputError as error:
        print(f"python -m cost: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

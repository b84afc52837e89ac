"""The pull request's one preview comment: every stack's preview, policy result and cost change.

    python .github/scripts/preview_comment.py previews/ > comment.md

``previews/<stack>/`` holds what the matrix job of that stack wrote: ``exit-code`` (of
``pulumi preview --policy-pack policy``), ``preview.txt`` and ``cost.md``. The first line is a
marker the workflow finds the comment by, so a new push edits it instead of adding another.
"""

from __future__ import annotations

import sys
from pathlib import Path

MARKER = "<!-- cloudrun-celery: pulumi preview -->"
# GitHub refuses comment bodies over 65,536 characters; keep the tail of long previews.
MAX_BODY = 65_000


def _read(path: Path, missing: str) -> str:
    return path.read_text(errors="replace").strip() if path.exists() else missing


def stack_section(stack_dir: Path, preview_budget: int) -> str:
    stack = stack_dir.name
    code = _read(stack_dir / "exit-code", "missing")
    if code == "0":
        verdict = "preview passed, policy pack passed"
    elif code == "missing":
        verdict = "no result: the preview job stopped before it finished (see its log)"
    else:
        verdict = f"**failed** (exit {code}): a policy violation or a preview error, see below"
    preview = _read(stack_dir / "preview.txt", "(no output)")
    if len(preview) > preview_budget:
        preview = "… (cut; the job log has it all)\n" + preview[-preview_budget:]
    cost = _read(stack_dir / "cost.md", "(no cost estimate: see the job log)")
    return (
        f"### `{stack}`: {verdict}\n\n"
        f"<details><summary>pulumi preview --policy-pack policy</summary>\n\n```\n{preview}\n```\n</details>\n\n"
        f"**Cost change**\n\n{cost}\n"
    )


def comment_body(previews: Path) -> str:
    stacks = sorted(p for p in previews.iterdir() if p.is_dir()) if previews.is_dir() else []
    if not stacks:
        return f"{MARKER}\n## Pulumi preview\n\nThis pull request changes no stack: nothing to preview.\n"
    budget = (MAX_BODY - 2_000 * len(stacks)) // len(stacks)
    sections = "\n".join(stack_section(s, budget) for s in stacks)
    return f"{MARKER}\n## Pulumi preview\n\n{sections}"


if __name__ == "__main__":
    sys.stdout.write(comment_body(Path(sys.argv[1])))

"""Markdown (and plain-text) tables of an estimate, and of the change between two estimates."""

from __future__ import annotations

from cost.estimate import LineItem, StackEstimate


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def signed_money(amount: float) -> str:
    if round(amount, 2) == 0:
        return "$0.00"
    return f"{'+' if amount > 0 else '-'}${abs(amount):,.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def stack_table(estimate: StackEstimate) -> str:
    rows = [[item.label, item.size, money(item.idle), money(item.loaded), item.note] for item in estimate.items]
    rows.append(["**Total**", "", f"**{money(estimate.idle)}**", f"**{money(estimate.loaded)}**", ""])
    return _table(["Item", "Size", "Idle per month", "Under load per month", "Note"], rows)


def stack_report(estimate: StackEstimate) -> str:
    return (
        f"### Stack `{estimate.stack}`: {money(estimate.idle)}/month idle, "
        f"{money(estimate.loaded)}/month under load\n\n"
        f"Load: {estimate.load.describe()}.\n\n{stack_table(estimate)}\n"
    )


def delta_report(head: StackEstimate, base: StackEstimate | None, base_ref: str) -> str:
    """The PR comment's table: every item whose size or cost changed, and the totals."""
    title = f"### Cost change of stack `{head.stack}` against `{base_ref}`"
    if base is None:
        return f"{title}\n\nNew stack (no Pulumi.{head.stack}.yaml at `{base_ref}`).\n\n{stack_table(head)}\n"
    before, after = base.by_key(), head.by_key()
    keys = list(after) + [key for key in before if key not in after]
    rows = []
    unchanged = 0
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and (old.size, old.idle, old.loaded) == (new.size, new.idle, new.loaded):
            unchanged += 1
            continue
        rows.append(_delta_row(old, new))
    if not rows:
        return f"{title}\n\nNo cost change: every line item is the same size.\n"
    rows.append(
        [
            "**Total**",
            "",
            money(base.idle),
            money(head.idle),
            f"**{signed_money(head.idle - base.idle)}**",
            f"**{signed_money(head.loaded - base.loaded)}**",
        ]
    )
    header = ["Item", "Size (before → after)", "Idle before", "Idle after", "Idle change", "Under-load change"]
    tail = f"\n\n{unchanged} unchanged item(s) not shown. Load: {head.load.describe()}." if unchanged else ""
    return f"{title}\n\n{_table(header, rows)}{tail}\n"


def _delta_row(old: LineItem | None, new: LineItem | None) -> list[str]:
    item = new if new is not None else old
    label = item.label if item is not None else ""
    size = f"{old.size if old else '(none)'} → {new.size if new else '(removed)'}"
    old_idle, new_idle = (old.idle if old else 0.0), (new.idle if new else 0.0)
    old_loaded, new_loaded = (old.loaded if old else 0.0), (new.loaded if new else 0.0)
    return [
        label,
        size,
        money(old_idle),
        money(new_idle),
        signed_money(new_idle - old_idle),
        signed_money(new_loaded - old_loaded),
    ]


def as_text(markdown: str) -> str:
    """The same report for a terminal: tables as aligned columns, emphasis dropped."""
    out: list[str] = []
    block: list[list[str]] = []

    def flush() -> None:
        if block:
            widths = [max(len(row[i]) for row in block) for i in range(len(block[0]))]
            out.extend("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in block)
            block.clear()

    for line in markdown.replace("**", "").replace("`", "").splitlines():
        if line.startswith("| ---"):
            continue
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip("|").split(" | ")])
            continue
        flush()
        out.append(line.removeprefix("### "))
    flush()
    return "\n".join(out) + "\n"

"""The medicine rows of the treatments step: the add and remove buttons, applied to the posted pairs."""

from __future__ import annotations

from . import steps

RowAction = tuple[str, int | None]


def row_action(value: str) -> RowAction | None:
    """Split a posted button value such as "remove-2" into its action and row; None when it is not a button."""
    name, _, index = value.partition("-")
    if name == "remove" and index.isascii() and index.isdigit():
        return name, int(index)
    if name in {"next", "back", "save", "add"} and not index:
        return name, None
    return None


def apply_row_action(pairs: steps.Pairs, action: str, row: int | None) -> steps.Pairs:
    """Add a blank medicine row, or drop one, before the answers are kept."""
    if action == "remove":
        prefix = f"medications-{row}-"
        return [pair for pair in pairs if not pair[0].startswith(prefix)]
    if action == "add":
        return [*pairs, [f"medications-{next_row(pairs)}-drug", ""]]
    return pairs


def next_row(pairs: steps.Pairs) -> int:
    """Return an unused medicine row index."""
    used = [
        int(name.split("-")[1])
        for name, _ in pairs
        if name.startswith("medications-") and name.split("-")[1].isascii() and name.split("-")[1].isdigit()
    ]
    return max(used, default=-1) + 1

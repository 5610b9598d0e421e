"""ASCII picture of a dashboard's layout, drawn from its JSON (panel boxes on the 24-column grid)."""

from __future__ import annotations

from typing import Any

COLUMN_CHARS = 3  # characters per grid column: 24 columns -> 72 characters


def _lines(panels: list[dict[str, Any]]) -> dict[int, int]:
    """Text line of every grid y boundary: about half a line per grid unit, at least 2 per band."""
    bounds = sorted(
        {p["gridPos"]["y"] for p in panels} | {p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels}
    )
    lines, at = {}, 0
    for i, b in enumerate(bounds):
        if i:
            at += max(2, round((b - bounds[i - 1]) / 2))
        lines[b] = at
    return lines


def picture(dashboard: dict[str, Any]) -> str:
    """The layout as text: one box per panel with its title (and type)."""
    panels = dashboard["panels"]
    lines = _lines(panels)
    width, height = 24 * COLUMN_CHARS + 1, max(lines.values()) + 1
    canvas = [[" "] * width for _ in range(height)]

    def put(row: int, col: int, ch: str) -> None:
        current = canvas[row][col]
        canvas[row][col] = "+" if (current in "-|+" and current != ch) or ch == "+" else ch

    for p in panels:
        g = p["gridPos"]
        left, right = g["x"] * COLUMN_CHARS, (g["x"] + g["w"]) * COLUMN_CHARS
        top, bottom = lines[g["y"]], lines[g["y"] + g["h"]]
        for c in range(left + 1, right):
            put(top, c, "-")
            put(bottom, c, "-")
        for r in range(top + 1, bottom):
            put(r, left, "|")
            put(r, right, "|")
        for r, c in ((top, left), (top, right), (bottom, left), (bottom, right)):
            put(r, c, "+")
        texts = [p.get("title", "")] if p["type"] != "row" else [f"row: {p.get('title', '')}"]
        if p.get("repeat"):
            texts[0] += f" (repeated per ${p['repeat']})"
        if p["type"] != "row":
            texts.append(f"[{p['type']}]")
        for line, text in enumerate(texts, start=top + 1):
            if line < bottom:
                for i, ch in enumerate(text[: right - left - 3]):
                    canvas[line][left + 2 + i] = ch
    title = f"{dashboard['title']}  (uid {dashboard['uid']}, default range {dashboard['time']['from']})"
    return "\n".join([title, *("".join(r).rstrip() for r in canvas)])

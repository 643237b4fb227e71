"""Plain-text reports: Markdown tables for results files, benchmarks and evaluation reports."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["markdown_table"]


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    return "" if value is None else str(value)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)

"""How the comparison benchmark reports progress: ``progress(what, done, total)``."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def quiet(*_: object) -> None:
    """Report nothing (the default, and for inner passes whose progress the caller shows)."""
    return None

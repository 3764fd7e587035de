"""The console commands' two streams and how they fail: results on stdout, progress and errors on
stderr, so that ``--json`` output can be piped."""

from __future__ import annotations

import typer
from rich.console import Console

from adapters.console import messages as msg

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (``raise fail(...)``)."""
    err.print(msg.ERROR.format(message=message), markup=False, highlight=False)
    return typer.Exit(code)

"""Running the real `supportbot serve` (and stand-ins) for a benchmark."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    """Return once ``url`` answers; kill ``proc`` and raise with its log if it died or took too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.2)

"""Which index version is live, and who may build the next one.

Two small ports with file-backed implementations for a single host; ``adapters.redis_versions`` has
the shared Redis ones that several workers use. Readers only ever follow the pointer, and the pointer
only moves after a version is complete, so nobody sees a half-built index (platform-rules.md, Chroma).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PointerState:
    current: int | None = None
    previous: int | None = None
    swapped_at: float | None = None
    reports: dict[str, dict[str, object]] = field(default_factory=dict)  # version -> reload summary


class PointerUnreadable(RuntimeError):
    """The pointer file exists but cannot be read; the message says how to recover."""


class VersionPointer(Protocol):
    """Where readers find the live version. `swap` is atomic: readers see old or new, never neither."""

    def read(self) -> PointerState: ...

    def swap(self, state: PointerState) -> None: ...


class ReloadLock(Protocol):
    """At most one reload per knowledge base. A holder that dies must not block the next reload."""

    def acquire(self) -> bool: ...

    def release(self) -> None: ...

    def held(self) -> bool:
        """Whether this instance still holds the lock; checked before the pointer moves."""
        ...

    def holder(self) -> str | None: ...


class FilePointer:
    """A JSON file replaced with ``os.replace`` (atomic on POSIX)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> PointerState:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return PointerState()
        except (OSError, ValueError) as exc:
            raise PointerUnreadable(
                f"the index version pointer {self.path} is unreadable ({exc}); restore it, or delete it "
                "and run `supportbot ingest` to rebuild the index"
            ) from exc
        return PointerState(
            current=raw.get("current"),
            previous=raw.get("previous"),
            swapped_at=raw.get("swapped_at"),
            reports=raw.get("reports", {}),
        )

    def swap(self, state: PointerState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLock:
    """An ``O_EXCL`` lock file naming its holder. A lock whose process is gone (same host) or that is
    older than ``ttl_s`` is stale and is taken over, so a killed reload never blocks the next one."""

    def __init__(self, path: Path, *, ttl_s: float = 3600.0, clock: Callable[[], float] = time.time):
        self.path = path
        self.ttl_s = ttl_s
        self.clock = clock
        self._owned = False

    def _info(self) -> dict[str, object] | None:
        try:
            data: dict[str, object] = json.loads(self.path.read_text(encoding="utf-8"))
            return data
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _stale(self, info: dict[str, object]) -> bool:
        since = info.get("since")
        if not isinstance(since, (int, float)) or self.clock() - since > self.ttl_s:
            return True
        pid = info.get("pid")
        return info.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self._info()
                if info is not None and not self._stale(info):
                    return False
                # stale: take it over (one more O_EXCL attempt decides any race)
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": self.clock()}, fh)
            self._owned = True
            return True
        return False

    def release(self) -> None:
        if self._owned:
            self._owned = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def held(self) -> bool:
        if not self._owned:
            return False
        info = self._info()
        return info is not None and info.get("pid") == os.getpid()

    def holder(self) -> str | None:
        info = self._info()
        if not info:
            return None
        since = info.get("since")
        when = ""
        if isinstance(since, float | int):
            when = time.strftime(", since %H:%M:%S", time.localtime(since))
        return f"pid {info.get('pid')} on {info.get('host')}{when}"

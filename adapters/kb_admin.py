"""Admins reload, check and roll back the help-centre index from chat: Slack's `/kb`, Teams' 1:1
`reload` / `status` / `rollback` / `help`.

The command is acknowledged at once (Slack: within 3 s; Teams: promptly); a reload runs in a thread of
its own while questions keep being answered from the live version, and its diff is sent when done
(Slack: the command's ``response_url``; Teams: a proactive message). Only listed admins change anything.
Each platform passes its strings module (the ``KB_*`` texts in its own markup).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from adapters.server.pool import OffLoop
from knowledge.kb import KBStatus, KnowledgeBase
from knowledge.reload import ReloadError, ReloadInProgress, ReloadReport

log = logging.getLogger(__name__)

Respond = Callable[[str], Awaitable[Any]]
_NAMES_SHOWN = 10  # changed articles named per kind; the rest are counted


def _names(ids: list[str]) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:_NAMES_SHOWN])
    return shown + (f" and {len(ids) - _NAMES_SHOWN} more" if len(ids) > _NAMES_SHOWN else "")


def reload_text(report: ReloadReport, s: Any) -> str:
    """The diff of a reload as an admin reads it, in the platform's strings ``s``."""
    changed = report.added or report.updated or report.removed
    if changed:
        head = s.KB_RELOAD_DONE.format(
            version=report.version, seconds=report.seconds, added=len(report.added),
            updated=len(report.updated), removed=len(report.removed), unchanged=len(report.unchanged),
            documents=report.documents, chunks=report.chunks,
        )
    else:
        head = s.KB_RELOAD_NOTHING.format(seconds=report.seconds, version=report.version,
                                          documents=report.documents)
    lines = [head]
    for label, ids in (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed)):
        if ids:
            lines.append(s.KB_CHANGED.format(label=label, names=_names(ids)))
    if report.skipped:
        lines.append(s.KB_SKIPPED.format(count=len(report.skipped)))
        lines += [s.KB_SKIPPED_LINE.format(path=k.path, reason=k.reason) for k in report.skipped[:20]]
    return "\n".join(lines)


def status_text(st: KBStatus, s: Any) -> str:
    if st.current is None:
        lines = [s.KB_NOTHING]
    else:
        swapped = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(st.swapped_at)) if st.swapped_at else "-"
        lines = [s.KB_STATUS.format(current=st.current, previous=st.previous or "none",
                                    documents=st.documents,
                                    chunks=st.chunks, swapped=swapped)]
        if st.last_reload:
            lines.append(s.KB_STATUS_LAST.format(**{k: st.last_reload.get(k, 0) for k in
                                                    ("added", "updated", "removed", "skipped")}))
    if st.reload_running:
        lines.append(s.KB_STATUS_RUNNING.format(holder=st.reload_running))
    return "\n".join(lines)


class KbCommand:
    """The admin commands over one knowledge base, worded with a platform's strings module."""

    def __init__(self, *, kb: KnowledgeBase, admins: frozenset[str], helpcentre_dir: Path | None,
                 strings: Any, on_reload: Callable[[float, bool], None] | None = None) -> None:
        self.s = strings
        self.on_reload = on_reload  # (seconds, succeeded), for metrics
        self.kb = kb
        self.admins = admins
        self.helpcentre_dir = helpcentre_dir
        self.io = OffLoop(workers=2, name="kb")

    async def __call__(
        self, text: str, user: str, ack: Callable[..., Awaitable[Any]], respond: Respond
    ) -> None:
        words = text.split()
        command = words[0].casefold() if words else "help"
        if command == "help":
            await ack(self.s.KB_USAGE)
            return
        if command not in ("reload", "status", "rollback"):
            await ack(self.s.KB_UNKNOWN.format(command=command[:40]) + self.s.KB_USAGE)
            return
        if user not in self.admins:
            log.info("kb %s refused for user %s (not an admin)", command, user)
            await ack(self.s.KB_NOT_ADMIN.format(command=command, user=user))
            return
        log.info("kb %s by %s", command, user)
        if command == "reload":
            await self._reload(ack, respond)
        elif command == "status":
            await ack()
            await respond(status_text(await self.io.run(self.kb.status), self.s))
        else:
            await ack()
            await respond(await self.io.run(self._rollback))

    async def _reload(self, ack: Callable[..., Awaitable[Any]], respond: Respond) -> None:
        folder = self.helpcentre_dir
        if folder is None:
            await ack(self.s.KB_NO_DIR)
            return
        if not folder.is_dir():
            await ack(self.s.KB_DIR_MISSING.format(path=folder))
            return
        holder = await self.io.run(self.kb.lock.holder)
        if holder:
            await ack(self.s.KB_ALREADY_RUNNING.format(holder=holder))
            return
        await ack(self.s.KB_RELOADING)
        self.io.spawn(self._reload_in_background(folder, respond))

    async def _reload_in_background(self, folder: Path, respond: Respond) -> None:
        t0, ok = time.perf_counter(), False
        try:
            report = await self.io.run(self.kb.reload, folder)
            ok = True
            text = reload_text(report, self.s)
            log.info("kb reload finished: %s", report.summary())
        except ReloadInProgress:
            text = self.s.KB_ALREADY_RUNNING.format(holder=self.kb.lock.holder() or "another worker")
        except (ReloadError, OSError) as exc:
            live = self.kb.pointer.read().current
            text = self.s.KB_RELOAD_FAILED.format(error=str(exc).rstrip("."), version=live or "none")
            log.warning("kb reload failed: %s", exc)
        except Exception as exc:  # never leave the admin without an answer
            log.exception("kb reload failed")
            live = self.kb.pointer.read().current
            text = self.s.KB_RELOAD_FAILED.format(error=type(exc).__name__, version=live)
        if self.on_reload is not None:
            self.on_reload(time.perf_counter() - t0, ok)
        try:
            await respond(text)
        except Exception:
            log.exception("could not send the reload result")

    def _rollback(self) -> str:
        try:
            state = self.kb.rollback()
        except ReloadError as exc:
            return self.s.KB_ROLLBACK_FAILED.format(error=str(exc).rstrip("."))
        return self.s.KB_ROLLED_BACK.format(current=state.current, previous=state.previous)

    def shutdown(self) -> None:
        self.io.shutdown()

"""The admin commands (Slack's `/kb`) on a real knowledge base, in process: what an admin reads when a reload is already running,
when one fails, and the diff and status texts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from adapters.kb_admin import KbCommand
from adapters.slack import strings as s
from knowledge.kb import KnowledgeBase


class Chat:
    """Records the acknowledgement and the later responses of one command."""

    def __init__(self) -> None:
        self.acks: list[str] = []
        self.responses: list[str] = []

    async def ack(self, text: str = "") -> Any:
        self.acks.append(text)

    async def respond(self, text: str) -> Any:
        self.responses.append(text)


def run(cmd: KbCommand, text: str, user: str = "UADMIN") -> Chat:
    chat = Chat()

    async def go() -> None:
        await cmd(text, user, chat.ack, chat.respond)
        if cmd.io.tasks:
            await asyncio.gather(*cmd.io.tasks)

    asyncio.run(go())
    return chat


def test_a_reload_while_one_runs_says_who_runs_it_and_since_when(kb: KnowledgeBase, helpcentre: Path) -> None:
    kb.reload(helpcentre)
    cmd = KbCommand(kb=kb, admins=frozenset({"UADMIN"}), helpcentre_dir=helpcentre, strings=s)
    assert kb.lock.acquire()
    try:
        chat = run(cmd, "reload")
    finally:
        kb.lock.release()
    (ack,) = chat.acks
    assert ack.startswith("A reload is already running (pid ") and ", since " in ack and chat.responses == []


def test_a_failed_reload_says_why_and_the_live_version_keeps_answering(
    kb: KnowledgeBase, helpcentre: Path, tmp_path: Path
) -> None:
    kb.reload(helpcentre)
    broken = tmp_path / "broken-helpcentre"
    broken.mkdir()
    (broken / "only.md").write_bytes(b"\xff\xfe not text")  # every file skipped: nothing to serve
    cmd = KbCommand(kb=kb, admins=frozenset({"UADMIN"}), helpcentre_dir=broken, strings=s)
    chat = run(cmd, "reload")
    assert chat.acks == [s.KB_RELOADING]
    (result,) = chat.responses
    assert result.startswith("*Reload failed*:") and "The live version (1) keeps answering" in result
    assert kb.pointer.read().current == 1 and kb.search("refund")[0].doc_id == "billing/refunds.md"


def test_reload_diff_status_and_unknown_commands(kb: KnowledgeBase, helpcentre: Path) -> None:
    cmd = KbCommand(kb=kb, admins=frozenset({"UADMIN"}), helpcentre_dir=helpcentre, strings=s)
    assert "Nothing has been indexed yet" in run(cmd, "status").responses[0]
    first = run(cmd, "reload").responses[0]
    assert "4 added" in first and "version 1" in first
    assert "no previous version" in run(cmd, "rollback").responses[0]
    again = run(cmd, "RELOAD").responses[0]
    assert again.startswith("*Help centre checked*") and "nothing changed; 4 articles, now version 2" in again
    assert run(cmd, "frobnicate").acks[0].startswith("I don't know `/kb frobnicate`")
    assert run(cmd, "rollback", user="UNOBODY").acks[0].startswith("Only help-centre admins")
    assert run(cmd, "rollback").responses[0].startswith("Rolled back: version 1 is live again")
    assert run(cmd, "").acks == [s.KB_USAGE]
    missing = KbCommand(kb=kb, admins=frozenset({"UADMIN"}), helpcentre_dir=None, strings=s)
    assert run(missing, "reload").acks == [s.KB_NO_DIR]

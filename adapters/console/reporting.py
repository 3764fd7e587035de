"""`supportbot report` as a table and as JSON (the figures come from ``bot.report``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters.console import messages as msg
from bot.report import QuestionGroup, Report


def day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def report_json(r: Report) -> dict[str, Any]:
    def groups(gs: list[QuestionGroup]) -> list[dict[str, Any]]:
        return [{**asdict(g), "last_at": day(g.last_at)} for g in gs]

    return {"since": day(r.since), "until": day(r.until), "questions": r.questions, "answered": r.answered,
            "answer_rate": r.answer_rate, "not_covered": r.not_covered, "errors": r.errors,
            "rate_limited": r.rate_limited, "busy": r.busy, "helpful": r.helpful,
            "not_helpful": r.not_helpful,
            "helpful_rate": r.helpful_rate, "human_requests": r.human,
            "top_unanswered": groups(r.top_unanswered), "top_not_helpful": groups(r.top_not_helpful)}


def print_groups(out: Console, title: str, groups: list[QuestionGroup]) -> None:
    if not groups:
        return
    table = Table(title=title, title_justify="left")
    table.add_column("asked", justify="right")
    table.add_column("question (newest phrasing)")
    table.add_column("channels", justify="right")
    table.add_column("last")
    for g in groups:
        table.add_row(str(g.count), g.question, str(g.channels), day(g.last_at))
    out.print(table)


def print_report(out: Console, r: Report, *, where: str) -> None:
    out.print(msg.REPORT_TITLE.format(since=day(r.since), until=day(r.until), where=where), highlight=False)
    if not r.questions and not r.top_unanswered:
        out.print(msg.REPORT_EMPTY)
        return
    table = Table(show_header=False, box=None)
    for key, value in (
        ("questions", r.questions), ("answered", f"{r.answered} ({pct(r.answer_rate)})"),
        ("not covered", r.not_covered), ("errors", r.errors), ("slowed down", r.rate_limited),
        ("turned away busy", r.busy),
        ("helpful rate", f"{pct(r.helpful_rate)} ({r.helpful} helpful, {r.not_helpful} not helpful)"),
        ("asked for a person", r.human),
    ):
        table.add_row(key, str(value))
    out.print(table)
    print_groups(out, msg.REPORT_UNANSWERED, r.top_unanswered)
    print_groups(out, msg.REPORT_NOT_HELPFUL, r.top_not_helpful)

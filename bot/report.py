"""What admins read to improve the help centre: volume, ratings and the questions it could not answer.

Built from the conversation store's daily counters, feedback log and unanswered log; platform-free so
the CLI (`supportbot report`) and chat adapters render the same figures. Questions are grouped by
their stemmed content words, so "How do I export to CSV?" and "export csv" count as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.store import ConversationStore, FeedbackRecord
from bot.text import content_terms
from bot.types import ANSWERED_REASONS, Reason


@dataclass(frozen=True)
class QuestionGroup:
    question: str  # the newest phrasing
    count: int
    last_at: float
    channels: int  # in how many channels it was asked


@dataclass(frozen=True)
class Report:
    since: float
    until: float
    questions: int  # handled by the engine (answers and short reasons)
    answered: int
    not_covered: int
    errors: int  # engine errors and "no index yet"
    rate_limited: int
    busy: int  # admitted but turned away: every worker taken and the queue full
    helpful: int
    not_helpful: int
    human: int
    top_unanswered: list[QuestionGroup] = field(default_factory=list)
    top_not_helpful: list[QuestionGroup] = field(default_factory=list)

    @property
    def helpful_rate(self) -> float | None:
        """Share of thumbs that were up; None before anyone rated."""
        rated = self.helpful + self.not_helpful
        return round(self.helpful / rated, 3) if rated else None

    @property
    def answer_rate(self) -> float | None:
        return round(self.answered / self.questions, 3) if self.questions else None


def group_questions(entries: Iterable[tuple[str, str, float]], top: int) -> list[QuestionGroup]:
    """(question, channel, at) entries, newest first, grouped by content words; most asked first."""
    groups: dict[tuple[str, ...], list[tuple[str, str, float]]] = {}
    for q, channel, at in entries:
        key = tuple(sorted(set(content_terms(q)))) or (q.strip().casefold(),)
        groups.setdefault(key, []).append((q, channel, at))
    summaries = []
    for g in groups.values():
        newest = max(g, key=lambda e: e[2])
        summaries.append(QuestionGroup(question=newest[0], count=len(g), last_at=newest[2],
                                       channels=len({e[1] for e in g})))
    return sorted(summaries, key=lambda s: (-s.count, -s.last_at))[:top]


def latest_ratings(newest_first: Iterable[FeedbackRecord]) -> list[FeedbackRecord]:
    """Each voter's latest thumbs rating of an answer (the log keeps every click; ratings toggle)."""
    seen: set[str] = set()
    kept = []
    for f in newest_first:
        if f.voter and f.kind != "human":
            if f.voter in seen:
                continue
            seen.add(f.voter)
        kept.append(f)
    return kept


def build_report(store: ConversationStore, *, since: float, until: float, top: int = 10,
                 scan: int = 10_000) -> Report:
    """The report for the UTC days from ``since`` to ``until`` (logs read up to ``scan`` entries)."""
    counts = store.counts(since, until)
    in_period = [u for u in store.unanswered(scan) if since <= u[2] <= until]
    unhelpful = [(f.question, f.channel, f.at) for f in latest_ratings(store.feedback(scan))
                 if f.kind == "not_helpful" and since <= f.at <= until]
    return Report(
        since=since, until=until,
        questions=sum(counts.get(str(r), 0) for r in Reason),
        answered=sum(counts.get(str(r), 0) for r in ANSWERED_REASONS),
        not_covered=counts.get(str(Reason.NOT_COVERED), 0),
        errors=counts.get(str(Reason.ERROR), 0) + counts.get(str(Reason.NO_INDEX), 0),
        rate_limited=counts.get("rate_limited", 0),
        busy=counts.get("busy", 0),
        helpful=counts.get("feedback_helpful", 0),
        not_helpful=counts.get("feedback_not_helpful", 0),
        human=counts.get("feedback_human", 0),
        top_unanswered=group_questions(in_period, top),
        top_not_helpful=group_questions(unhelpful, top),
    )

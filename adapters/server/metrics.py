"""Prometheus metrics of one `supportbot serve` process (``GET /metrics``), on a registry of its own.

Counted from the core's ``TurnObserver`` (what each turn came to, per platform: never any text), the
admin reloads, and gauges read at scrape time: the answer queue and Redis' degraded calls.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.types import Answer

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("supportbot_requests", "Messages by platform and outcome (answered, "
                                "duplicate, rate_limited, busy; resumed: taken over from a worker that "
                                "died, then also counted when answered; gave_up).", ["platform", "outcome"],
                                registry=r)
        self.latency = Histogram("supportbot_answer_seconds", "Time to make an answer, by backend.",
                                 ["backend"], buckets=_LATENCY_BUCKETS, registry=r)
        self.answers = Counter("supportbot_answers", "Answers by confidence and reason.",
                               ["confidence", "reason"], registry=r)
        self.abstentions = Counter("supportbot_abstentions", "Answers that said the help centre does not "
                                   "cover the question.", ["platform"], registry=r)
        self.feedback = Counter("supportbot_feedback", "Ratings and requests for a person, by kind.",
                                ["platform", "kind"], registry=r)
        self.reloads = Counter("supportbot_reloads", "Reloads from chat, by result.", ["result"], registry=r)
        self.reload_seconds = Histogram("supportbot_reload_seconds", "Duration of reloads from chat.",
                                        buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600), registry=r)

    # -- bot.conversation.TurnObserver -----------------------------------------------------------------

    def admitted(self, platform: str, outcome: str) -> None:
        if outcome != "answered":  # answered turns are counted when the answer is made
            self.requests.labels(platform, outcome).inc()

    def answered(self, platform: str, answer: Answer, seconds: float) -> None:
        self.requests.labels(platform, "answered").inc()
        self.latency.labels(answer.backend).observe(seconds)
        self.answers.labels(str(answer.confidence), str(answer.reason)).inc()
        if answer.abstained:
            self.abstentions.labels(platform).inc()

    def rated(self, platform: str, kind: str) -> None:
        self.feedback.labels(platform, kind).inc()

    # -- the rest --------------------------------------------------------------------------------------

    def reloaded(self, seconds: float, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "failed").inc()
        if ok:
            self.reload_seconds.observe(seconds)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A value read when Prometheus scrapes (queue depth, degraded Redis calls)."""
        Gauge(name, doc, registry=self.registry).set_function(read)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

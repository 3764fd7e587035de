"""A deterministic synthetic help centre of any size (no third-party text), for benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["billing", "account", "security", "mobile", "integrations", "troubleshooting", "projects",
          "calendar", "notifications", "reports"]
NOUNS = ["invoice", "workspace", "password", "project", "timeline", "calendar", "webhook", "token",
         "seat", "plan", "device", "session", "export", "import", "report", "member", "role", "team",
         "notification", "integration", "widget", "schedule", "task", "label", "comment", "file"]
VERBS = ["open", "select", "download", "connect", "remove", "rename", "archive", "restore", "share",
         "invite", "sync", "refresh", "enable", "disable", "reset", "update", "review", "approve"]
PLACES = ["Settings", "Billing", "Profile", "Admin console", "Integrations page", "project menu",
          "mobile app", "sidebar", "Security tab", "Reports view"]


def sentence(rng: random.Random) -> str:
    return (f"To {rng.choice(VERBS)} a {rng.choice(NOUNS)}, go to {rng.choice(PLACES)} and "
            f"{rng.choice(VERBS)} the {rng.choice(NOUNS)} {rng.choice(['list', 'details', 'options'])}; "
            f"the {rng.choice(NOUNS)} updates within {rng.randint(1, 60)} minutes.")


def article(i: int, *, sections: int = 10, seed: int = 0) -> str:
    rng = random.Random(seed * 1_000_003 + i)
    topic = TOPICS[i % len(TOPICS)]
    title = f"{rng.choice(VERBS).capitalize()} your {rng.choice(NOUNS)} ({topic} {i})"
    lines = ["---", f"title: {title}", f"url: https://help.bench.example/{topic}/{i}",
             f"tags: [{topic}]", "audience: everyone", "updated: 2026-06-01", "---", ""]
    for s in range(sections):
        lines.append(f"## {rng.choice(NOUNS).capitalize()} {rng.choice(VERBS)} {s}")
        lines.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 3))))
        lines.append("")
    return "\n".join(lines)


def write_helpcentre(root: Path, n: int, *, sections: int = 10, seed: int = 0) -> list[Path]:
    paths = []
    for i in range(n):
        p = root / TOPICS[i % len(TOPICS)] / f"article-{i:05d}.md"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(article(i, sections=sections, seed=seed), encoding="utf-8")
        paths.append(p)
    return paths


def queries(n: int, *, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"how do I {rng.choice(VERBS)} the {rng.choice(NOUNS)} in {rng.choice(PLACES)}?"
            for _ in range(n)]

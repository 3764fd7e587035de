"""`supportbot eval`: BEIR sets read as they are, metrics that mean what they say."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console.cli import app
from knowledge.evaluation import DatasetError, load_beir, ranking_metrics

CORPUS = [
    {"_id": "d1", "title": "Resetting a forgotten password", "text": "Click Forgot password on the sign-in page and follow the emailed link."},
    {"_id": "d2", "title": "Exporting invoices", "text": "Download every invoice as a PDF from the billing history page."},
    {"_id": "d3", "title": "Pairing a bluetooth headset", "text": "Hold the pairing button for five seconds until the light blinks blue."},
    {"_id": "d4", "title": "Changing the display language", "text": "Pick a language under Preferences; the interface reloads in it."},
    {"_id": "d5", "title": "Closing an account", "text": "Account owners can close the account from the danger zone at the bottom of settings."},
]
QUERIES = [
    {"_id": "q1", "text": "I forgot my password, what now?"},
    {"_id": "q2", "text": "where can I get a PDF of my invoices"},
    {"_id": "q3", "text": "and how long does that take?", "history": [
        {"role": "user", "text": "My bluetooth headset will not pair"},
        {"role": "assistant", "text": "Let's try pairing mode."}]},
    {"_id": "q4", "text": "What is the capital of Peru?", "answerable": False},
    {"_id": "q5", "text": "switch the interface to French"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq5\td4\t1\n"


def write_set(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in CORPUS) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in QUERIES) + "\n")
    (root / "qrels" / "dev.tsv").write_text(QRELS)
    return root


def test_ranking_metrics_by_hand() -> None:
    m = ranking_metrics(["x", "g", "y"], {"g": 1})
    assert (m["hit@1"], m["hit@3"], m["mrr@10"]) == (0.0, 1.0, 0.5)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(3))
    m = ranking_metrics(["a", "b"], {"a": 1, "z": 1})
    assert m["recall@5"] == 0.5 and m["hit@1"] == 1.0
    assert ranking_metrics(["n"] * 10 + ["g"], {"g": 1})["mrr@10"] == 0.0


def test_load_beir_reads_history_and_answerable(tmp_path: Path) -> None:
    s = load_beir(write_set(tmp_path / "set"))
    assert len(s.corpus) == 5 and s.corpus[0].title == "Resetting a forgotten password"
    q3 = next(q for q in s.queries if q.qid == "q3")
    assert q3.user_history() == ("My bluetooth headset will not pair",)
    assert not next(q for q in s.queries if q.qid == "q4").answerable
    assert s.qrels["q1"] == {"d1": 1} and "q4" not in s.qrels


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda r: (r / "corpus.jsonl").unlink(), "corpus.jsonl not found"),
        (lambda r: (r / "queries.jsonl").write_text("{not json\n"), "not valid JSON lines"),
        (lambda r: (r / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1 d1\n"), "expected query-id"),
        (lambda r: (r / "qrels" / "dev.tsv").unlink(), "is --split right?"),
    ],
)
def test_unreadable_sets_raise_clear_errors(tmp_path: Path, breakage, message: str) -> None:  # noqa: ANN001
    root = write_set(tmp_path / "set")
    breakage(root)
    with pytest.raises(DatasetError, match=message.replace("?", r"\?")):
        load_beir(root)


def test_eval_cli_json(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    result = CliRunner().invoke(app, ["eval", str(write_set(tmp_path / "set")), "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    for key in ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "p50_ms", "p95_ms", "embed_p50_ms",
                "n_queries", "recall@5", "recall@10", "hit@3", "ingest_docs_per_s"):
        assert key in r, key
    assert r["n_queries"] == 4  # the unanswerable question is left out
    assert r["hit@1"] == 1.0  # q3 only works because the history names the headset
    assert r["p95_ms"] >= r["p50_ms"] > 0 and r["embed_p50_ms"] > 0


def test_eval_cli_table_and_bad_split(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    root = write_set(tmp_path / "set")
    table = CliRunner().invoke(app, ["eval", str(root)])
    assert table.exit_code == 0 and "mrr@10" in table.stdout
    bad = CliRunner().invoke(app, ["eval", str(root), "--split", "test"])
    assert bad.exit_code == 2 and "test.tsv not found" in bad.stderr


def test_eval_answers_and_history_flags(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    root = write_set(tmp_path / "set")
    result = CliRunner().invoke(app, ["eval", str(root), "--answers", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    for key in ("abstain_recall", "answer_rate", "cited_gold_rate", "answer_p50_ms", "answer_p95_ms"):
        assert key in r, key
    assert r["n_unanswerable"] == 1 and r["abstain_recall"] == 1.0  # "capital of Peru" is declined
    assert r["n_answerable"] == 4 and r["answer_rate"] >= 0.75 and r["cited_gold_rate"] == 1.0
    assert r["answer_p95_ms"] >= r["answer_p50_ms"] > 0
    # without the conversation, the follow-up about "the button" loses its subject
    without = json.loads(CliRunner().invoke(app, ["eval", str(root), "--no-history", "--json"]).stdout)
    assert without["hit@1"] < r["hit@1"]


def test_eval_explain_lists_each_wrong_decision_with_its_evidence(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    root = write_set(tmp_path / "set")
    # a threshold nothing reaches: every answerable question becomes a wrongly declined one
    env = {"SUPPORTBOT_ABSTAIN_THRESHOLD": "5"}
    r = json.loads(CliRunner().invoke(app, ["eval", str(root), "--explain", "--json"], env=env).stdout)
    assert r["answer_rate"] == 0.0 and r["lead_gold_rate"] is None
    wrong = {m["qid"]: m for m in r["mistakes"]}
    assert set(wrong) == {q["_id"] for q in QUERIES if q.get("answerable", True)}
    m = next(iter(wrong.values()))
    assert m["kind"] == "wrongly_declined" and m["gold"] and m["score"] < 5
    assert set(m["features"]) == {"dense", "terms", "missing"}
    assert m["top_hits"] and {"doc_id", "title", "score", "dense", "gold"} <= set(m["top_hits"][0])
    # the default threshold: answered questions lead with a gold article, and the table mode prints
    r = json.loads(CliRunner().invoke(app, ["eval", str(root), "--explain", "--json"]).stdout)
    assert r["lead_gold_rate"] == 1.0 and all(m["kind"] != "wrongly_answered" for m in r["mistakes"])
    table = CliRunner().invoke(app, ["eval", str(root), "--explain"], env=env)
    assert table.exit_code == 0 and "wrongly_declined" in table.stdout and "gold:" in table.stdout

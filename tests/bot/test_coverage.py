"""Each coverage feature on hand-written pairs, typo repair, and the lead-article order."""

from __future__ import annotations

from bot.coverage import CoveragePolicy, lead_order, missing_term, term_coverage
from bot.text import question_terms
from bot.types import Confidence
from knowledge.lexical import tokenize
from knowledge.retrieval import Hit
from knowledge.spelling import Speller, english_idf, unknown_word_weight


def article(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def hit(doc_id: str, text: str, *, query: str, dense: float, score: float = 1.0, title: str = "") -> Hit:
    return Hit(doc_id=doc_id, chunk_id=f"{doc_id}#0", title=title or doc_id, url="", text=text, headings="",
               score=score, lexical=0.0, dense=dense, doc_dense=dense, query=query,
               doc_terms=article(f"{title} {text}"))


PASSWORD = article("Reset your password. On the sign-in page click Forgot password and we email you a link.")


def test_english_weights_rank_subject_words_above_everyday_ones() -> None:
    assert english_idf("payrol") > english_idf("work") and english_idf("invoic") > english_idf("need")
    assert english_idf("xyzzyplugh") == unknown_word_weight()  # never seen: the largest weight


def test_my_and_your_mean_the_same_and_chat_filler_does_not_count() -> None:
    assert question_terms("How do I reset my password?") == question_terms("reset your password")
    assert question_terms("hey pls quick q, my password reset doesnt work") == ["password", "reset"]


def test_term_coverage_weights_words_by_how_informative_they_are() -> None:
    assert term_coverage(question_terms("How do I reset my password?"), PASSWORD) == 1.0
    # the article has "password" but not "payroll": the share is the weights', not the count's
    share = term_coverage(question_terms("password for payroll"), PASSWORD)
    assert 0.0 < share < 0.5
    assert term_coverage([], PASSWORD) == 0.0  # a question that names nothing covers nothing


def test_missing_term_names_the_word_the_article_never_uses() -> None:
    weight, word = missing_term(question_terms("Is there an Apple Watch app for password reset?"), PASSWORD)
    assert word == max(["app", "appl", "watch"], key=english_idf) and weight > 0.4
    assert weight == english_idf(word) / unknown_word_weight()
    assert missing_term(question_terms("reset my password"), PASSWORD) == (0.0, "")


def test_policy_answers_a_plainly_covered_question_on_a_tiny_help_centre() -> None:
    q = "How do I reset my password?"
    cov = CoveragePolicy().decide(q, [hit("reset.md", "Reset your password. Click Forgot password.", query=q,
                                          dense=0.62)])
    assert cov.covered and cov.confidence == Confidence.HIGH, cov
    assert cov.features["terms"] == 1.0 and cov.features["missing"] == 0.0


def test_policy_declines_when_the_subject_is_missing_even_with_a_fair_cosine() -> None:
    q = "Do you integrate with Xero?"
    cov = CoveragePolicy().decide(q, [hit("integrations.md", "Integrations: connect Slack and GitHub.",
                                          query=q, dense=0.45)])
    assert not cov.covered and cov.confidence == Confidence.LOW and cov.missing_word == "xero", cov
    assert cov.features["missing"] == 1.0
    assert not CoveragePolicy().decide(q, []).covered


def test_shared_words_alone_never_make_a_distant_question_covered() -> None:
    q = "is there a linux desktop app"
    shortcuts = hit("shortcuts.md", "Keyboard shortcuts for the desktop app on Windows, Mac and Linux.",
                    query=q, dense=0.16)
    cov = CoveragePolicy().decide(q, [shortcuts])
    assert cov.features["terms"] == 1.0 and cov.score >= CoveragePolicy().threshold
    assert not cov.covered
    assert CoveragePolicy(min_dense=0.1).decide(q, [shortcuts]).covered


def test_threshold_is_a_setting() -> None:
    q = "reset my password"
    hits = [hit("reset.md", "Reset your password.", query=q, dense=0.4)]
    score = CoveragePolicy().decide(q, hits).score
    assert CoveragePolicy(threshold=score).decide(q, hits).covered
    assert not CoveragePolicy(threshold=score + 0.01).decide(q, hits).covered


def test_lead_order_puts_the_article_that_covers_the_question_first() -> None:
    q = "what happens when my trial ends"
    refund = hit("refund.md", "Refunds within 30 days of the charge, also after a trial.", query=q, dense=0.65,
                 score=1.0, title="Request a refund")
    trial = hit("trial.md", "When the trial ends the workspace moves to the Free plan.", query=q, dense=0.63,
                score=0.9, title="What happens when your trial ends")
    other = hit("seats.md", "Add seats.", query=q, dense=0.2, score=0.5, title="Manage seats")
    assert [h.doc_id for h in lead_order([refund, trial, other])] == ["trial.md", "refund.md", "seats.md"]
    # beyond the first n, retrieval's order is kept
    assert [h.doc_id for h in lead_order([refund, other, trial], n=1)] == ["refund.md", "seats.md", "trial.md"]


def test_speller_repairs_typos_to_help_centre_words_and_leaves_english_alone() -> None:
    speller = Speller(["Reset your password", "Download an invoice", "Notifications doesn't arrive",
                       "Canceled subscriptions"])
    assert speller.correct("forgot my pasword") == "forgot my password"
    assert speller.correct("Invocie for March?") == "invoice for March?"
    assert speller.correct("no notifcations") == "no notifications"
    assert speller.correct("cancled by mistake") == "canceled by mistake"
    # real English words, words it knows, short words and unknown names stay as typed
    assert speller.correct("apple watch app") == "apple watch app"
    assert speller.correct("it doesnt arrive") == "it doesnt arrive"
    assert speller.correct("sync with xero") == "sync with xero"

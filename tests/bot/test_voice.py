"""The brand voice's rules: profile validation, the linter rule by rule, and the rules-only rewriter,
whose fact safety is shown over generated answers (hypothesis): no number, price, duration, link,
name, [n] marker, code or quoted label changes, and rewriting twice changes nothing more."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.voice import voice_words
from bot.voice.facts import check_facts, find_facts
from bot.voice.lint import lint, reading_grade
from bot.voice.profile import PROFILES_DIR, ProfileError, VoiceLibrary, load_profile, parse_profile
from bot.voice.rewrite import Rewriter

CADENCE = load_profile(PROFILES_DIR / "cadence.yml")
REWRITER = Rewriter(CADENCE)
PLATFORMS = ("slack", "teams", "console")


def _doc(**changes: object) -> dict[str, object]:
    doc = yaml.safe_load((PROFILES_DIR / "cadence.yml").read_text(encoding="utf-8"))
    doc.update(changes)
    return doc


# -- profiles ---------------------------------------------------------------------------------------------


def test_the_sample_profile_loads_with_every_field() -> None:
    p = CADENCE
    assert (p.name, p.brand, p.assistant_name) == ("cadence", "Cadence", "Cady")
    assert p.greeting.phrases[0] == "Hi there!" and p.banned_phrases and p.preferred_terms
    assert p.for_platform("console").emoji is False and p.for_platform("slack").emoji is True
    assert "Timeline" in p.protected_terms


@pytest.mark.parametrize("changes,expected", [
    ({"tone": []}, "tone: needs at least 1 item(s)"),
    ({"colour": "blue"}, "colour: is not a profile field"),
    ({"greeting": {"mode": "required", "phrases": []}}, "greeting: mode is required but no phrases"),
    ({"greeting": {"mode": "sometimes"}}, "greeting.mode: must be one of 'required', 'optional' or 'never'"),
    ({"name": "Cadence Voice"}, "name: use lowercase letters"),
    ({"formatting": {"discord": {}}}, "formatting: unknown platform 'discord'"),
    ({"max_words": 5}, "max_words: must be at least 20"),
    ({"sign_off": {"mode": "optional", "phrases": ["Simply ask again!"]}}, "uses a banned phrase"),
    ({"preferred_terms": [{"use": "select", "instead_of": ["Select"]}]}, "also in its own instead_of"),
    ({"emoji": {"max": "lots"}}, "emoji.max: must be a whole number"),
])
def test_a_broken_profile_is_refused_with_the_field_and_the_problem(changes: dict[str, object],
                                                                     expected: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile(_doc(**changes), source="voices/cadence.yml")
    assert str(err.value).startswith("voices/cadence.yml: ") and expected in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("brand: Cadence\ntone: [warm\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"broken.yml: invalid YAML at line \d"):
        load_profile(path)


def test_the_library_keeps_the_last_good_profile_while_its_file_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "acme.yml"
    path.write_text(yaml.safe_dump(_doc(name="acme", brand="Acme")), encoding="utf-8")
    library = VoiceLibrary(tmp_path, check_every_s=0)
    assert library.get("acme").brand == "Acme"
    path.write_text(yaml.safe_dump(_doc(name="acme", brand="")), encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert library.get("acme").brand == "Acme"  # the broken edit is not used
    assert "brand" in library.errors["acme"]
    path.write_text(yaml.safe_dump(_doc(name="acme", brand="Acme Corp")), encoding="utf-8")
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert library.get("acme").brand == "Acme Corp" and "acme" not in library.errors
    with pytest.raises(ProfileError, match=r"no voice profile 'nope' .*there: acme"):
        library.get("nope")


# -- the linter, rule by rule -------------------------------------------------------------------------------

GOOD = "Hi there! Refunds reach your card within 10 business days [1]. Select **Refund** to start."


def test_a_good_reply_passes_every_rule() -> None:
    report = lint(GOOD, CADENCE, "slack")
    assert report.score == 1.0, report.failed()


@pytest.mark.parametrize("rule,text,platform", [
    ("banned_phrases", "Hi there! Unfortunately refunds take 10 days [1].", "slack"),
    ("preferred_terms", "Hi there! Click **Refund** to start [1].", "slack"),
    ("greeting", "Refunds reach your card within 10 business days [1].", "slack"),
    ("emoji", "Hi there! Refunds take 10 days [1]. 🎉🎉", "slack"),
    ("emoji", "Hi there! Refunds take 10 days [1]. 🙂", "console"),
    ("emoji", "Hi there! Refunds take 10 days [1]. 💸", "slack"),
    ("length", "Hi there! " + "Refunds take ten days to arrive. " * 40, "slack"),
    ("exclamations", "Hi there! Refunds are quick! They take 10 days! Really!", "slack"),
    ("reading_level", "Hi there! Reimbursement authorisation necessitates comprehensive administrative "
                      "verification procedures, institutional documentation requirements, and "
                      "organisational accountability considerations [1].", "slack"),
    ("formatting", "Hi there!\n\n## Refunds\nThey take 10 days [1].", "slack"),
])
def test_each_rule_fails_on_its_own_breach(rule: str, text: str, platform: str) -> None:
    report = lint(text, CADENCE, platform)
    assert [r.rule for r in report.failed()] == [rule], report.failed()
    assert 0 < report.score < 1


def test_words_inside_facts_are_not_breaches() -> None:
    text = 'Hi there! Select the "Log in" button, then run `click --simply` [1].'
    assert lint(text, CADENCE).score == 1.0


def test_headings_are_fine_where_the_platform_renders_them() -> None:
    assert lint("Hi there!\n\n## Refunds\nThey take 10 days [1].", CADENCE, "teams").score == 1.0


def test_reading_grade_orders_plain_and_dense_text() -> None:
    assert reading_grade("Open the app. Tap the plus. Pick a date.") < 4
    assert reading_grade("Comprehensive organisational authorisation necessitates documentation.") > 12


# -- the rewriter -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_rewriter_brings_a_plain_answer_into_the_voice(platform: str) -> None:
    plain = ("Unfortunately, refunds take 5-10 business days [1]. Click **Refund**, then log in to "
             "https://help.cadence.test/billing!!! Please note that Timeline shows it. 🎉🎉")
    styled = REWRITER.rewrite(plain, platform)
    assert styled.startswith("Hi there! Refunds take 5-10 business days [1]. Select **Refund**, then sign in to")
    assert "Timeline shows it" in styled and "unfortunately" not in styled.lower()
    assert lint(styled, CADENCE, platform).score == 1.0
    assert lint(plain, CADENCE, platform).score < 0.7
    assert check_facts(plain, styled, protected_terms=CADENCE.protected_terms).ok


def test_content_is_never_cut_for_length() -> None:
    long = " ".join(f"Step {i} takes {i} minutes [1]." for i in range(1, 60))
    styled = REWRITER.rewrite(long)
    assert styled == long  # too long for a greeting: the content stays whole, the linter flags it
    assert [r.rule for r in lint(styled, CADENCE).failed()] == ["greeting", "length"]


def test_a_listed_greeting_and_sign_off_are_kept_and_a_generic_greeting_replaced() -> None:
    assert REWRITER.rewrite("Hey! Refunds take 10 days [1].\n\nHope that helps!") == \
        "Hey! Refunds take 10 days [1].\n\nHope that helps!"
    assert REWRITER.rewrite("Hello, refunds take 10 days [1].") == "Hi there! Refunds take 10 days [1]."


# Generated answers: sentences mixing facts with everything the profile rewrites.
FACTS = st.sampled_from([
    "30 days", "$12.50", "€9", "20%", "5-10 business days", "2 hours", "3 seats", "10:30 am", "v2.4.1",
    "[1]", "[2]", "[3]", "`cadence sync --all`", "**Save**", '"Billing details"', "“Invite people”",
    "https://help.cadence.test/billing/refunds", "[the refund form](https://cadence.test/refund)",
    "billing@cadence.test", "Timeline", "Jira", "Google Calendar", "Focus time", "SAML", "SCIM",
])
NOISE = st.sampled_from([
    "unfortunately", "Unfortunately,", "please note that", "Please note that", "simply", "Simply",
    "click", "Click on", "CLICK", "log in to", "Log in", "e-mail", "team members", "kindly", "in order to",
    "obviously,", "🎉", "🙂", "💸", "!", "!!", "we apologize for any inconvenience", "utilize",
])
WORDS = st.sampled_from(["you", "can", "open", "the", "settings", "page", "and", "then", "your",
                         "workspace", "invoice", "refund", "calendar", "takes", "about", "after", "it"])
TOKEN = st.one_of(FACTS, NOISE, WORDS, WORDS, WORDS)
SENTENCE = st.lists(TOKEN, min_size=2, max_size=14).map(lambda ws: " ".join(ws)).map(
    lambda s: s[:1].upper() + s[1:] + st_end(s))
OPENER = st.sampled_from(["", "", "Hello! ", "Hi, ", "Hey! ", "## Refunds\n", "Good morning. "])
CLOSER = st.sampled_from(["", "", "\n\nHope that helps!", "\n\nThanks!"])


def st_end(s: str) -> str:
    return "" if s.endswith(("!", ".")) else "."


ANSWER = st.tuples(OPENER, st.lists(SENTENCE, min_size=1, max_size=6), st.booleans(), CLOSER).map(
    lambda t: t[0] + ("\n".join(f"- {x}" for x in t[1]) if t[2] else " ".join(t[1])) + t[3])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANSWER, platform=st.sampled_from(PLATFORMS))
def test_the_rewriter_never_changes_a_fact_and_is_idempotent(text: str, platform: str) -> None:
    styled = REWRITER.rewrite(text, platform)
    before = sorted(f for _, _, f in find_facts(text, CADENCE.protected_terms))
    after = sorted(f for _, _, f in find_facts(styled, CADENCE.protected_terms))
    # every fact, as many times, exactly as written (a heading shown as a bold line adds a label)
    assert [f for f in before if f.kind != "label"] == [f for f in after if f.kind != "label"]
    assert {f for f in before if f.kind == "label"} <= set(after)
    check = check_facts(text, styled, protected_terms=CADENCE.protected_terms, voice_words=voice_words(CADENCE))
    assert check.ok, check.reason()
    assert REWRITER.rewrite(styled, platform) == styled
    owned = {"banned_phrases", "preferred_terms", "emoji", "exclamations", "formatting"}
    failed = {r.rule for r in lint(styled, CADENCE, platform).failed()}
    assert not failed & owned, (styled, failed)


def test_the_guard_rejects_a_rewording_that_leaves_out_a_sentence_without_numbers() -> None:
    source = ("With it off, invitations are blocked until the Owner adds more seats [1]. "
              "Deactivated accounts and pending invitations never take a seat [1].")
    dropped = "Hi! With it off, invitations are blocked until the Owner adds more seats [1]."
    check = check_facts(source, dropped, protected_terms=CADENCE.protected_terms,
                        voice_words=voice_words(CADENCE))
    assert [f.kind for f in check.missing] == ["sentence"] and "Deactivated accounts" in check.reason()
    reworded = ("Hi! Good to know: deactivated accounts and pending invites never take a seat [1]. With it off, "
                "invitations stay blocked until the Owner adds more seats [1].")
    assert check_facts(source, reworded, protected_terms=CADENCE.protected_terms,
                       voice_words=voice_words(CADENCE)).ok  # reordered and reworded, nothing left out


def test_the_guard_rejects_a_rewording_that_loses_a_negation() -> None:
    source = "Deleting a user in your IdP deactivates them; Cadence never deletes content automatically [1]."
    reversed_ = "Hi there! No. Deleting a user in your IdP deactivates them; Cadence deletes content automatically [1]."
    check = check_facts(source, reversed_, protected_terms=CADENCE.protected_terms,
                        voice_words=voice_words(CADENCE))
    assert [f.kind for f in check.added] == ["negation"] and "reversed?" in check.reason()
    # the leading "No." does not make up for the lost "never": the count is of the answer's own claims
    kept = "Hi there! Good news: your content is safe. Cadence never deletes it automatically [1] — deleting " \
           "a user in your IdP only deactivates them."
    assert check_facts(source, kept, protected_terms=CADENCE.protected_terms,
                       voice_words=voice_words(CADENCE)).ok
    assert check_facts("Invoices go to the billing email, not to each member [1].",
                       "Invoices go to the billing email rather than to each member [1].").ok


def test_a_name_from_the_question_may_be_repeated_but_not_a_number_from_it() -> None:
    source = "Click **More actions → Create Cadence task** on a message [1]."
    reply = "Hi! To make a task from a Teams message, select **More actions → Create Cadence task** [1]."
    words = voice_words(CADENCE)
    alone = check_facts(source, reply, protected_terms=CADENCE.protected_terms, voice_words=words)
    assert [(f.kind, f.value) for f in alone.added] == [("name", "Teams")]  # a name from nowhere
    asked = check_facts(source, reply, protected_terms=CADENCE.protected_terms, voice_words=words,
                        question="How do I create a task from a Teams message?")
    assert asked.ok  # the asker said it
    confirmed = check_facts("Exports take a few days [1].", "Yes, exports take 30 days [1].",
                            question="Do exports take 30 days?")
    assert [f.kind for f in confirmed.added] == ["number"]  # the asker's number is no source

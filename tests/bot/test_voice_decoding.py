"""Fact-constrained decoding (bot/voice/decoding.py): the rules on their own, then the processor with the
real SmolLM2 tokenizer on chosen scores, then a real generation that may write no number its source
lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.voice import voice_words
from bot.voice.decoding import FactConstraint, invents_number, missing_sentences, number_runs
from bot.voice.profile import PROFILES_DIR, load_profile
from bot.voice.rewrite import Rewriter

CADENCE = load_profile(PROFILES_DIR / "cadence.yml")
SOURCE = "Exports take 14 days [1]. They cost $20 [2]. Ask support@cadence.example for help [1]."


@pytest.mark.parametrize(("written", "piece", "invents"), [
    ("take 1", "4", False),  # still a prefix of 14
    ("take 14", " days", False),  # 14 finished
    ("take 1", "5", True),  # 15 is not in the source
    ("take 14", "0", True),  # nor 140
    ("see [", "3", True),  # no source [3], and no number starts with 3
    ("see [", "1", False),  # the marker [1]
    ("see [", "2", True),  # no marker starts with 2
    ("costs 2", " dollars", True),  # a finished 2 that the source only has as the start of 20
    ("", "It costs 20.", False),
    ("written 99 before. ", "Now", False),  # an earlier number is not this step's business
    ("It takes ", "1 year", True),  # the source's 1 is a source marker, not a number to reuse
    ("take 14 days [", "14]", True),  # nor is 14 a marker
])
def test_a_digit_may_only_continue_a_number_of_the_source(written: str, piece: str, invents: bool) -> None:
    numbers = number_runs("Exports take 14 days [1]. They cost $20.")
    assert invents_number(written, piece, numbers) is invents


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> object:
    from transformers import AutoTokenizer

    from bot.local_llm import load_local_model

    folder = load_local_model(tmp_path_factory.mktemp("voice-models")).path
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _constraint(tokenizer: object, prompt: list[int], *, source: str = SOURCE, copy: bool = False) -> FactConstraint:
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")  # type: ignore[attr-defined]
    return FactConstraint(tokenizer, source, len(prompt), protected_terms=CADENCE.protected_terms,
                          voice_words=voice_words(CADENCE), stop_ids=[end],
                          sign_offs=CADENCE.sign_off.phrases,
                          copy=Rewriter(CADENCE).swap_words if copy else None)


def _step(tokenizer: object, written: str, favourite: str | int) -> tuple[object, list[int], FactConstraint]:
    """The processor's view of one step: ``written`` so far, ``favourite`` the most likely next token."""
    import torch

    encode = tokenizer.__call__  # type: ignore[operator]
    prompt = encode("Reword this.", add_special_tokens=False)["input_ids"]
    ids = prompt + encode(written, add_special_tokens=False)["input_ids"]
    top = favourite if isinstance(favourite, int) else encode(favourite, add_special_tokens=False)["input_ids"][0]
    scores = torch.zeros((1, len(tokenizer)))  # type: ignore[arg-type]
    scores[0, top] = 10.0
    constraint = _constraint(tokenizer, prompt)
    return constraint(torch.tensor([ids]), scores), [top], constraint


def test_the_reply_cannot_end_or_sign_off_while_a_fact_is_missing(tokenizer: object) -> None:
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")  # type: ignore[attr-defined]
    partial = "Hi! Exports take 14 days [1]. They cost $20 [2].\n\n"
    scores, top, c = _step(tokenizer, partial, end)
    assert scores[0, end] == float("-inf") and c.blocked_ends == 1  # type: ignore[index]
    scores, top, c = _step(tokenizer, partial, "Hope")  # "Hope that helps!" would wrap up early
    assert scores[0, top[0]] == float("-inf")  # type: ignore[index]

    complete = partial + "Ask support@cadence.example for help [1]."
    scores, top, c = _step(tokenizer, complete, end)
    assert scores[0, end] == 10.0 and c.blocked_ends == 0  # type: ignore[index]


def test_a_digit_that_starts_a_new_number_is_not_a_choice(tokenizer: object) -> None:
    scores, top, c = _step(tokenizer, "Hi! Exports take 1", "5")
    assert scores[0, top[0]] == float("-inf") and c.blocked_numbers == 1  # type: ignore[index]
    scores, top, c = _step(tokenizer, "Hi! Exports take 1", "4")
    assert scores[0, top[0]] == 10.0 and c.blocked_numbers == 0  # type: ignore[index]


def test_a_real_generation_writes_no_number_its_source_lacks(tmp_path: Path,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    from bot.local_llm import load_local_model
    from bot.voice.lora import generate, messages_for

    local = load_local_model(tmp_path_factory.mktemp("voice-models"))
    # asked to count, the base model reaches for numbers of its own; the constraint leaves it only the source's
    messages = [{"role": "user", "content": "Write the numbers from 1 to 9, separated by commas."}]
    free = generate(local, messages, SOURCE, max_time_s=20)
    held = generate(local, messages, SOURCE, profile=CADENCE, max_time_s=20)
    allowed = set(re.findall(r"\d+", SOURCE))
    assert set(re.findall(r"\d+", free)) - allowed  # the test can fail: free decoding invents numbers
    assert not set(re.findall(r"\d+", held)) - allowed, held
    assert messages_for(CADENCE, SOURCE, question="How long?")[1]["content"].startswith("Question: How long?")


def test_writing_kept_from_ending_is_kept_only_as_far_as_it_brings_facts_in(tokenizer: object) -> None:
    encode = tokenizer.__call__  # type: ignore[operator]
    own_end = "Hi! Exports take 14 days [1]. They cost $20 [2]."
    constraint = _constraint(tokenizer, [])
    constraint.first_end = len(encode(own_end, add_special_tokens=False)["input_ids"])
    looping = own_end + " They cost $20 [2]. 🎉 🎉 🎉"
    assert constraint.finish(encode(looping, add_special_tokens=False)["input_ids"]) == own_end
    useful = own_end + " Ask support@cadence.example for help [1]. 🎉 🎉 Thanks! 🎉"
    assert constraint.finish(encode(useful, add_special_tokens=False)["input_ids"]) == \
        own_end + " Ask support@cadence.example for help [1]."
    constraint.first_end = None  # never kept from ending: the reply is the model's, whole
    assert constraint.finish(encode(looping, add_special_tokens=False)["input_ids"]) == looping


def test_the_sentences_that_hold_missing_facts_are_found_in_order() -> None:
    terms, words = CADENCE.protected_terms, voice_words(CADENCE)
    assert missing_sentences(SOURCE, "Hi! Exports take 14 days [1].", terms, words) == [
        "They cost $20 [2].", "Ask support@cadence.example for help [1]."]
    assert missing_sentences(SOURCE, SOURCE, terms, words) == []
    # a sentence with no number or name is missing when the reply left out most of its words
    source = "Exports take 14 days [1]. Archived projects stay readable by every teammate forever."
    assert missing_sentences(source, "Exports take 14 days [1].", terms, words) == [source.split(". ")[1]]


def _run(tokenizer: object, constraint: FactConstraint, written: str, plan: str = "", after: str = "") -> list[int]:
    """Greedy decoding by hand, with a scripted model: it would write ``plan`` and end; once something
    has been copied in, it would write ``after`` too before it ends. The constraint decides what is
    written."""
    import torch

    encode = tokenizer.__call__  # type: ignore[operator]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")  # type: ignore[attr-defined]
    ids = encode(written, add_special_tokens=False)["input_ids"]
    wants = encode(plan, add_special_tokens=False)["input_ids"] if plan else []
    tail = encode(after, add_special_tokens=False)["input_ids"] if after else []
    for _ in range(300):
        if not wants and constraint.copy_end is not None and tail:
            wants, tail = tail, []
        scores = torch.zeros((1, len(tokenizer)))  # type: ignore[arg-type]
        scores[0, wants[0] if wants else end] = 10.0
        chosen = int(constraint(torch.tensor([ids]), scores)[0].argmax())
        if chosen == end:
            return ids
        if wants and chosen == wants[0]:
            wants.pop(0)
        ids.append(chosen)
    raise AssertionError("the reply never ended")


def test_where_the_reply_would_end_without_a_fact_the_sentence_that_holds_it_is_copied_in(
        tokenizer: object) -> None:
    source = "Exports take 14 days [1]. To cancel one, click on **Stop export** [2]."
    written = "Hi there! 👋 Exports take 14 days [1]."
    constraint = _constraint(tokenizer, [], source=source, copy=True)
    ids = _run(tokenizer, constraint, written, "\n\nHappy creating! 🚀")  # the model would sign off now
    # the missing sentence, with the profile's word swap ("click on" -> "select"), in the paragraph
    # the model had opened, then the sign-off
    assert constraint.copied == "To cancel one, select **Stop export** [2]."
    assert constraint.finish(ids) == (written + "\n\nTo cancel one, select **Stop export** [2]."
                                      "\n\nHappy creating! 🚀")
    assert constraint.blocked_ends == 1 and not constraint.cut_off

    # without copying, the same model can only be kept from ending, and it brings nothing in
    plain = _constraint(tokenizer, [], source=source)
    ids = _run(tokenizer, plain, written, "\n\nHappy creating! 🚀")
    assert plain.copied == "" and plain.cut_off and plain.finish(ids).strip() == written


def test_after_a_copy_the_models_own_tail_is_dropped_when_it_runs_on_or_adds_a_fact(tokenizer: object) -> None:
    source = "Exports take 14 days [1]. To cancel one, select **Stop export** [2]."
    written = "Hi there! Exports take 14 days [1]."
    copy = " To cancel one, select **Stop export** [2]."
    constraint = _constraint(tokenizer, [], source=source, copy=True)
    ids = _run(tokenizer, constraint, written, after=" 🎉" * 120)
    assert constraint.cut_off and constraint.finish(ids) == written + copy

    constraint = _constraint(tokenizer, [], source=source, copy=True)
    ids = _run(tokenizer, constraint, written, after=" Ask Jordan from Billing.")
    assert not constraint.cut_off and constraint.finish(ids) == written + copy

    constraint = _constraint(tokenizer, [], source=source, copy=True)
    ids = _run(tokenizer, constraint, written, after=" Happy creating!")
    assert constraint.finish(ids) == written + copy + " Happy creating!"


def test_the_model_writes_at_most_its_limit_but_a_copy_under_way_is_finished(tokenizer: object) -> None:
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")  # type: ignore[attr-defined]
    rambling = FactConstraint(tokenizer, "Exports are free.", 0, stop_ids=[end], limit=5)
    assert len(_run(tokenizer, rambling, "", plan=" and so on" * 20)) == 5 and rambling.cut_off
    source = "Exports take 14 days [1]. To cancel one, select **Stop export** [2]."
    written = "Hi there! Exports take 14 days [1]."
    encode = tokenizer.__call__  # type: ignore[operator]
    at_limit = len(encode(written, add_special_tokens=False)["input_ids"])
    copying = _constraint(tokenizer, [], source=source, copy=True)
    copying.limit = at_limit + 1  # the model wants to end one token before its limit
    ids = _run(tokenizer, copying, written, after=" Happy creating!")
    assert copying.finish(ids) == written + " To cancel one, select **Stop export** [2]."  # no room left


def test_a_real_generation_that_would_stop_short_keeps_every_fact(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from bot.local_llm import load_local_model
    from bot.voice.facts import check_facts
    from bot.voice.lora import DecodingStats, generate

    local = load_local_model(tmp_path_factory.mktemp("voice-models"))
    messages = [{"role": "user", "content": "Reply with one word: OK."}]
    stats = DecodingStats()
    held = generate(local, messages, SOURCE, profile=CADENCE, max_time_s=30, stats=stats)
    free = generate(local, messages, SOURCE, max_time_s=30)
    words = voice_words(CADENCE)
    assert not check_facts(SOURCE, free, protected_terms=CADENCE.protected_terms, voice_words=words).ok
    assert check_facts(SOURCE, held, protected_terms=CADENCE.protected_terms, voice_words=words).missing == ()
    assert stats.replies == 1 and stats.copied == 1 and stats.kept_from_ending == 1

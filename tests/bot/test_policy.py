"""The per-channel policy file: parsing, inheritance, error messages, and the all_questions heuristic."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.policy import (
    ChannelPolicy,
    Policies,
    PolicyError,
    Respond,
    load_policies,
    looks_like_question,
    parse_policies,
)
from bot.voice import VoiceLibrary
from knowledge.loaders import load_file
from knowledge.retrieval import Scope

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "knowledge" / "sample_helpcentre"

FULL = """\
# who may see what
default:
  respond: mentions
  escalation: C0123SUPPORT
  voice: friendly
  scope:
    categories: [billing, account]
    tags: refunds
    audiences: [everyone]
    doc_ids: []
channels:
  C0BILLING:
    respond: all_questions
    scope: {categories: [billing]}
  C0RANDOM:
    respond: off
  C0SECURE:
    escalation: U0ALICE
    voice: formal
    scope:
      doc_ids: [security/two-factor.md, security/sso.md]
  C0ALL:
    scope: {}
    escalation:
    voice:
  "19:abc@thread.tacv2":
    respond: all_questions
    escalation: 19:def@thread.tacv2
  C0BARE:
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_full_file_sets_every_field_and_channels_inherit_from_default(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, FULL))
    default_scope = Scope(categories=("billing", "account"), tags=("refunds",), audiences=("everyone",))
    assert policies.default == ChannelPolicy(
        respond=Respond.MENTIONS, scope=default_scope, escalation="C0123SUPPORT", voice="friendly"
    )
    assert policies.for_channel("C0BILLING") == ChannelPolicy(  # the scope replaces default's as a whole
        respond=Respond.ALL_QUESTIONS, scope=Scope(categories=("billing",)),
        escalation="C0123SUPPORT", voice="friendly",
    )
    assert policies.for_channel("C0RANDOM") == ChannelPolicy(
        respond=Respond.OFF, scope=default_scope, escalation="C0123SUPPORT", voice="friendly"
    )
    assert policies.for_channel("C0SECURE") == ChannelPolicy(
        respond=Respond.MENTIONS, scope=Scope(doc_ids=("security/two-factor.md", "security/sso.md")),
        escalation="U0ALICE", voice="formal",
    )
    # present-but-empty keys override the default with "none"
    assert policies.for_channel("C0ALL") == ChannelPolicy(respond=Respond.MENTIONS)
    teams = policies.for_channel("19:abc@thread.tacv2")
    assert (teams.respond, teams.escalation) == (Respond.ALL_QUESTIONS, "19:def@thread.tacv2")
    assert policies.for_channel("C0BARE") == policies.default  # an entry with no fields is all default
    assert policies.for_channel("C0UNLISTED") is policies.default
    assert set(policies.channels) == {"C0BILLING", "C0RANDOM", "C0SECURE", "C0ALL", "19:abc@thread.tacv2",
                                      "C0BARE"}


def test_no_file_or_empty_file_means_mentions_from_the_whole_help_centre(tmp_path: Path) -> None:
    for policies in (load_policies(None), load_policies(write(tmp_path, "# nothing yet\n"))):
        assert policies == Policies()
        assert policies.for_channel("C0ANY") == ChannelPolicy(
            respond=Respond.MENTIONS, scope=None, escalation="", voice=""
        )
        assert dict(policies.channels) == {}


def test_respond_accepts_bare_off_and_any_case() -> None:
    doc = {"channels": {"C0A": {"respond": False}, "C0B": {"respond": "All_Questions"}}}
    policies = parse_policies(doc)
    assert policies.for_channel("C0A").respond is Respond.OFF  # YAML 1.1 reads `respond: off` as false
    assert policies.for_channel("C0B").respond is Respond.ALL_QUESTIONS


def test_numeric_channel_keys_become_strings(tmp_path: Path) -> None:
    assert set(parse_policies({"channels": {12345: {"respond": "off"}}}).channels) == {"12345"}
    policies = load_policies(write(tmp_path, """\
        channels:
          12345: {respond: off}
          0123: {respond: all_questions}
        """))
    assert policies.for_channel("12345").respond is Respond.OFF
    assert policies.for_channel("0123").respond is Respond.ALL_QUESTIONS  # as written, not octal 83
    assert "83" not in policies.channels


@pytest.mark.parametrize("scope", [{}, None, {"categories": [], "tags": [], "audiences": [], "doc_ids": []},
                                   {"categories": None}])
def test_empty_scope_is_unrestricted(scope: object) -> None:
    doc = {"default": {"scope": {"categories": "billing"}}, "channels": {"C0A": {"scope": scope}}}
    policies = parse_policies(doc)
    assert policies.default.scope == Scope(categories=("billing",))
    assert policies.for_channel("C0A").scope is None


def test_scope_names_are_trimmed_and_deduplicated() -> None:
    policies = parse_policies({"default": {"scope": {"tags": ["sso", " sso ", "2fa"], "doc_ids": "a.md"}}})
    assert policies.default.scope == Scope(tags=("sso", "2fa"), doc_ids=("a.md",))


def test_policies_are_read_only_and_hashable() -> None:
    source = {"C0A": ChannelPolicy(respond=Respond.OFF)}
    policies = Policies(channels=source)
    source["C0B"] = ChannelPolicy()
    assert "C0B" not in policies.channels  # a copy, not a view of the caller's dict
    with pytest.raises(TypeError):
        policies.channels["C0C"] = ChannelPolicy()  # type: ignore[index]
    assert hash(policies) == hash(Policies(channels={"C0A": ChannelPolicy(respond=Respond.OFF)}))
    assert policies == Policies(channels={"C0A": ChannelPolicy(respond=Respond.OFF)})
    assert policies != Policies(channels={"C0A": ChannelPolicy()})


ERRORS = [
    pytest.param("channel:\n  C0A: {}\n", ["top level", "unknown key 'channel'", "did you mean 'channels'"],
                 id="unknown-top-level-key"),
    pytest.param("- C0A\n- C0B\n", ["top level", "is a list", "mapping"], id="not-a-mapping"),
    pytest.param("channels:\n  C0A: {repsond: off}\n",
                 ["channels.C0A:", "unknown key 'repsond'", "did you mean 'respond'", "allowed: respond"],
                 id="unknown-channel-field"),
    pytest.param("default: {respond: sometimes}\n",
                 ["default.respond", "'sometimes'", "mentions, all_questions, off"], id="bad-respond"),
    pytest.param("channels:\n  C0A: {respond: on}\n",
                 ["channels.C0A.respond", "true/false", "mentions, all_questions, off"], id="respond-on"),
    pytest.param("channels:\n  C0A: {respond: }\n", ["channels.C0A.respond", "empty"], id="respond-empty"),
    pytest.param("channels:\n  C0A:\n    scope: {category: billing}\n",
                 ["channels.C0A.scope:", "unknown key 'category'", "did you mean 'categories'"],
                 id="bad-scope-key"),
    pytest.param("channels:\n  C0BILLING:\n    scope: {categories: [billing, 5]}\n",
                 ["channels.C0BILLING.scope.categories", "item 2", "a number", "quotes"],
                 id="non-string-list-item"),
    pytest.param("default:\n  scope: {tags: [[sso]]}\n", ["default.scope.tags", "item 1", "a list"],
                 id="nested-list-item"),
    pytest.param("default:\n  scope: {tags: {sso: 1}}\n", ["default.scope.tags", "a mapping", "list of names"],
                 id="scope-field-not-a-list"),
    pytest.param("default:\n  scope: [billing]\n", ["default.scope:", "is a list", "mapping"],
                 id="scope-not-a-mapping"),
    pytest.param("channels:\n  C0A: {escalation: support team}\n",
                 ["channels.C0A.escalation", "'support team'", "spaces"], id="escalation-with-spaces"),
    pytest.param("channels:\n  C0A: {escalation: C0123support}\n",
                 ["channels.C0A.escalation", "not a Slack id", "C0123SUPPORT"], id="escalation-bad-slack-shape"),
    pytest.param("channels:\n  C0A: {escalation: '#support'}\n",
                 ["channels.C0A.escalation", "a name, not an id"], id="escalation-channel-name"),
    pytest.param("channels:\n  C0A: {escalation: 12345}\n",
                 ["channels.C0A.escalation", "a number", "quotes"], id="escalation-number"),
    pytest.param("default: {voice: ''}\n", ["default.voice", "empty"], id="voice-empty"),
    pytest.param("channels:\n  C0A: [respond, off]\n", ["channels.C0A:", "is a list"], id="entry-not-a-mapping"),
    pytest.param("channels: [C0A]\n", ["channels:", "is a list"], id="channels-not-a-mapping"),
    pytest.param("channels:\n  Cbilling: {}\n", ["channels.Cbilling", "not a Slack id"], id="bad-channel-key"),
    pytest.param("channels:\n  C0A: {}\n  C0B: {}\n  C0A: {respond: off}\n",
                 ["invalid YAML at line 4", "duplicate key 'C0A'"], id="duplicate-channel"),
    pytest.param("default:\n  respond: mentions\n  scope: {categories: [billing}\n",
                 ["invalid YAML at line 3", "expected ',' or ']'", "fix the syntax"], id="invalid-yaml"),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_errors_name_the_file_the_entry_and_the_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policies(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_parse_errors_use_the_given_source_name() -> None:
    with pytest.raises(PolicyError, match=r"^settings: top level: unknown key 'extra'"):
        parse_policies({"extra": 1}, source="settings")
    with pytest.raises(PolicyError, match=r"^<policy>: channels\.True: is true/false"):
        parse_policies({"channels": {True: {}}})


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(PolicyError, match=r"nope\.yml: file not found; create it or fix SUPPORTBOT_CHANNELS_FILE"):
        load_policies(missing)
    with pytest.raises(PolicyError, match="cannot read the file"):
        load_policies(tmp_path)  # a folder
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes("default: {voice: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(PolicyError, match=r"latin1\.yml: not UTF-8"):
        load_policies(latin1)
    assert issubclass(PolicyError, ValueError)


QUESTIONS = [
    "How do I reset my password",
    "what happens when my trial ends",
    "Why was I charged twice",
    "can I export my data to CSV",
    "Is there a way to undo a deleted project",
    "does the mobile app work offline",
    "any idea why Google Calendar stopped syncing",
    "anyone seen the SSO login loop today",
    "help, invites are not arriving",
    "hey team, how do I add a VAT id",
    "Hi all! Where are invoices kept",
    "What's the rate limit for the API",
    "refund?",
    "the export button is greyed out?!",
    "my invoice shows the wrong address?? 🙏",
    "sync broken again? :thinking_face:",
    "<@U0123> is SCIM supported on the Pro plan",
    "billing portal shows an error ?  ",
    "Should we enable two-factor for everyone",
]
NOT_QUESTIONS = [
    "",
    "   ",
    "thanks!",
    "Thanks so much 🙏",
    "lol",
    "ok",
    "ok?",
    "hi",
    "hello everyone",
    "good morning team!",
    "Help me",  # under three words and no question mark
    "deploy finished",
    "I reset my password and it worked.",
    "Shipping the new release on Friday",
    "Why? Because.",  # the question mark is not at the end, and two words
    "see https://status.example.com?x=1 for details",
    ":wave: :tada:",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_looks_like_question(text: str) -> None:
    assert looks_like_question(text) is True


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_does_not_look_like_question(text: str) -> None:
    assert looks_like_question(text) is False


def test_shipped_example_parses_and_names_real_categories() -> None:
    policies = load_policies(ROOT / "channels.example.yml")
    assert policies.default.respond is Respond.MENTIONS
    assert policies.for_channel("C0RANDOM").respond is Respond.OFF
    assert policies.for_channel("C0BILLING").scope == Scope(categories=("billing",))
    # every category named is a folder of the sample help centre, and the loader derives an
    # article's category from exactly that folder name
    named = {c for p in (policies.default, *policies.channels.values()) if p.scope for c in p.scope.categories}
    folders = {d.name for d in SAMPLE.iterdir() if d.is_dir()}
    assert named and named <= folders
    article = next((SAMPLE / "billing").glob("*.md"))
    assert load_file(article, root=SAMPLE).category == "billing"
    voices = {p.voice for p in (policies.default, *policies.channels.values())} - {""}
    assert voices == {"cadence"} and all(VoiceLibrary().get(v) for v in voices)  # shipped profiles

"""`supportbot voice lint` and `voice profiles`, as a support lead runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from adapters.console.cli import app

runner = CliRunner()


def test_lint_scores_a_reply_rule_by_rule_and_exits_1_on_a_breach(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["voice", "lint", "Unfortunately, click Save to keep your work. It is fast!!! 🎉🎉", "--profile", "cadence",
                              "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.stdout)
    failed = {r["rule"]: r["detail"] for r in doc["rules"] if not r["passed"]}
    assert set(failed) == {"banned_phrases", "preferred_terms", "greeting", "emoji", "exclamations"}
    assert "'click' (say 'select')" in failed["preferred_terms"] and doc["score"] < 0.5

    reply = tmp_path / "reply.md"
    reply.write_text("Hi there! Select **Save**, then refresh [1].\n\nHope that helps!", encoding="utf-8")
    good = runner.invoke(app, ["voice", "lint", str(reply), "--profile", "cadence"])
    assert good.exit_code == 0 and "100% of rules pass" in good.stdout

    console = runner.invoke(app, ["voice", "lint", "Hi there! Saved 🙂", "--profile", "cadence",
                                  "--platform", "console", "--json"])
    assert console.exit_code == 1
    assert [r["rule"] for r in json.loads(console.stdout)["rules"] if not r["passed"]] == ["emoji"]


def test_lint_names_what_is_wrong_with_its_arguments(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["voice", "lint", "Hi", "--profile", "acme"])
    assert unknown.exit_code == 2 and "no voice profile 'acme'" in unknown.stderr and "cadence" in unknown.stderr
    platform = runner.invoke(app, ["voice", "lint", "Hi", "--platform", "discord"])
    assert platform.exit_code == 2 and "unknown platform 'discord'" in platform.stderr


def test_profiles_lists_them_and_flags_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text("brand: Acme\nassistant_name: Ace\npersona: Helpful.\ntone: [calm]\n",
                                       encoding="utf-8")
    (tmp_path / "bad.yml").write_text("brand: Acme\n", encoding="utf-8")
    listed = runner.invoke(app, ["voice", "profiles", "--json"], env={"SUPPORTBOT_VOICE_DIR": str(tmp_path)})
    assert listed.exit_code == 1
    rows = {r["name"]: r for r in json.loads(listed.stdout)["profiles"]}
    assert rows["good"]["ok"] and rows["good"]["assistant"] == "Ace"
    assert not rows["bad"]["ok"] and "assistant_name: is required" in rows["bad"]["problem"]

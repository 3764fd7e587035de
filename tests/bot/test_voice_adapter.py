"""The LoRA voice adapter's data, versions and training: the hygiene check refuses a dirty set, the
shipped sets are clean, versions activate and roll back, and a tiny real training run on the local
SmolLM2 lowers the loss and saves a version that loads and changes the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console.cli import app
from bot.voice.dataset import DATA_DIR, DatasetError, Pair, hygiene, load_pairs
from bot.voice.lora import AdapterError, AdapterStore
from bot.voice.profile import PROFILES_DIR, load_profile

CADENCE = load_profile(PROFILES_DIR / "cadence.yml")
PLAIN = "Refunds take 5 business days [1]. Click **Refund** to start."
VOICED = "Hi there! Refunds take 5 business days [1]. Select **Refund** to start."


def test_the_shipped_examples_are_clean_and_big_enough() -> None:
    train = load_pairs(DATA_DIR / "cadence-train.jsonl")
    heldout = load_pairs(DATA_DIR / "cadence-heldout.jsonl")
    assert len(train) >= 200 and len(heldout) >= 50
    assert hygiene(train, heldout, CADENCE) == []
    openings = {p.output.split()[2].strip(",.!").lower() for p in train if len(p.output.split()) > 2}
    assert len(openings) > 40  # varied, not one template


def test_the_hygiene_check_names_every_kind_of_problem() -> None:
    train = [
        Pair("a", PLAIN, VOICED),
        Pair("b", PLAIN, VOICED + " Hope that helps!"),  # the same input twice
        Pair("c", "Exports finish in 2 hours [1].", "Hi there! Exports finish in 3 hours [1]."),  # a changed fact
        Pair("d", "Open Settings, then Billing [1].", "Hi there! Open Settings, then Billing [1] in Jira."),
        Pair("e", "Open **Billing** [1].", "Hi there! " + "You can open **Billing** whenever you like [1]. " * 3),
        Pair("f", "Invite your team [1].", "Unfortunately you must invite your team [1]."),
    ]
    heldout = [Pair("h", PLAIN, VOICED)]
    kinds = {(p.kind, p.ids) for p in hygiene(train, heldout, CADENCE)}
    assert ("duplicate", ("a", "b")) in kinds
    assert ("overlap", ("b", "h")) in kinds or ("overlap", ("a", "h")) in kinds
    assert ("invented_fact", ("c",)) in kinds and ("dropped_fact", ("c",)) in kinds
    assert ("invented_fact", ("d",)) in kinds  # a product name the input never mentions
    assert ("length", ("e",)) in kinds
    assert ("off_voice", ("f",)) in kinds


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"input": "a", "output": "b"}) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"pairs.jsonl:2: not JSON"):
        load_pairs(path)
    path.write_text(json.dumps({"input": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"pairs.jsonl:1: needs non-empty"):
        load_pairs(path)


def _version(root: Path, profile: str, name: str) -> None:
    folder = root / profile / name
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"version": name, "loss": {"first": 1, "last": 0.5}}),
                                      encoding="utf-8")


def test_versions_activate_and_roll_back(tmp_path: Path) -> None:
    shipped, root = tmp_path / "shipped", tmp_path / "trained"
    _version(shipped, "cadence", "v1")
    _version(root, "cadence", "v2")
    (root / "cadence" / "v3").mkdir()  # an unfinished run (no meta.json) is not a version
    store = AdapterStore(root, shipped=shipped)
    assert [(v.version, v.shipped) for v in store.versions("cadence")] == [("v1", True), ("v2", False)]
    assert store.active("cadence") is None and store.next_dir("cadence") == root / "cadence" / "v3"
    with pytest.raises(AdapterError, match="nothing to roll back to"):
        store.rollback("cadence")
    store.activate("cadence", "v1")
    store.activate("cadence", "v2")
    assert store.active("cadence").version == "v2"  # type: ignore[union-attr]
    assert store.rollback("cadence").version == "v1"  # type: ignore[union-attr]
    store.deactivate("cadence")
    assert store.active("cadence") is None
    with pytest.raises(AdapterError, match=r"no adapter 'v9' for voice 'cadence' \(there: v1, v2\)"):
        store.activate("cadence", "v9")
    store.remove_unfinished(root / "cadence" / "v3")
    assert not (root / "cadence" / "v3").exists()


def test_the_cli_lists_activates_and_rolls_back(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"SUPPORTBOT_VOICE_DIR": str(tmp_path), "SUPPORTBOT_VOICE": "cadence"}
    (tmp_path / "cadence.yml").write_text((PROFILES_DIR / "cadence.yml").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    _version(tmp_path / "adapters", "cadence", "v7")
    listed = runner.invoke(app, ["voice", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["versions"]
    assert [r["version"] for r in rows if not r["shipped"]] == ["v7"] and not rows[-1]["active"]
    assert runner.invoke(app, ["voice", "activate", "v7"], env=env).exit_code == 0
    assert json.loads(runner.invoke(app, ["voice", "list", "--json"], env=env).stdout)["versions"][-1]["active"]
    missing = runner.invoke(app, ["voice", "activate", "v8"], env=env)
    assert missing.exit_code == 1 and "no adapter 'v8'" in missing.stderr
    back = runner.invoke(app, ["voice", "rollback"], env=env)
    assert back.exit_code == 1 and "only v7 has been active" in back.stderr


def test_train_refuses_a_dirty_set_with_a_report(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": i, "input": PLAIN, "output": VOICED}) + "\n" for i in "ab"),
                     encoding="utf-8")
    result = CliRunner().invoke(app, ["voice", "train", str(pairs), "--profile", "cadence"],
                                env={"SUPPORTBOT_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 1
    assert "duplicate" in result.stderr and "not training on" in result.stderr
    assert not (tmp_path / "data" / "voice").exists()  # nothing trained, nothing saved


def test_a_tiny_training_run_lowers_the_loss_and_changes_the_output(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from bot.local_llm import load_local_model
    from bot.voice.lora import LoraStylist, TrainSettings, base_system, generate, messages_for, train

    cache = tmp_path_factory.mktemp("voice-models")
    pairs = [Pair(f"p{i}", f"Exports take {i} minutes [1]. Click **Export**.",
                  f"Hi there! Exports take {i} minutes [1]. Select **Export**, easy.") for i in range(2, 6)]
    result = train(pairs, CADENCE, cache_dir=cache, out_dir=tmp_path / "v1",
                   settings=TrainSettings(max_steps=4, batch_size=2, learning_rate=5e-3, max_tokens=160))
    assert len(result.losses) == 4 and result.losses[-1] < result.losses[0]
    meta = json.loads((tmp_path / "v1" / "meta.json").read_text(encoding="utf-8"))
    assert meta["dataset"]["train"] == 4 and meta["settings"]["r"] == 8
    assert meta["loss"]["last"] < meta["loss"]["first"]
    assert meta["base_model"].startswith("SmolLM2-135M") and meta["created"]
    config = json.loads((tmp_path / "v1" / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == "SmolLM2-135M-Instruct"  # no path of this machine
    answer = "Exports take 9 minutes [1]. Click **Export**."
    local = load_local_model(cache)
    messages = messages_for(CADENCE, answer)
    plain = generate(local, messages, answer, profile=CADENCE, max_time_s=15)  # same prompt, no adapter
    answered = local.generate(messages, max_new_tokens=16).text  # as the `local` answer backend writes
    stylist = LoraStylist(tmp_path / "v1", cache_dir=cache, max_time_s=15)
    assert stylist.local is local  # loaded into the answer model, not into a second copy of it
    adapted = stylist.restyle(answer, CADENCE)
    assert adapted and adapted != plain
    # the model is shared: whatever else uses it writes with the adapter off
    assert generate(local, messages, answer, profile=CADENCE, max_time_s=15) == plain
    assert local.generate(messages, max_new_tokens=16).text == answered
    assert base_system(CADENCE, cache, max_time_s=15)(answer)


def test_eval_scores_a_system_that_drops_or_invents_a_fact_below_one_that_keeps_them() -> None:
    from bot.voice.evaluate import rules_system, score

    pairs = [Pair("a", PLAIN, VOICED, question="How long do refunds take?")]
    kept = score(rules_system(CADENCE), pairs, CADENCE)
    assert kept.fact_preservation == 1.0 and kept.guard_pass == 1.0 and kept.style_score > 0.9
    seen: list[str] = []

    def dropping(text: str, question: str) -> str:
        seen.append(question)
        return "Hi there! Refunds take a while [1]. Select **Refund** to start."

    dropped = score(dropping, pairs, CADENCE)
    assert 0 < dropped.fact_preservation < 1 and dropped.guard_pass == 0.0
    assert seen == ["How long do refunds take?"]  # each system is told what was asked
    invented = score(lambda text, q: text.replace("5 business", "7 business"), pairs, CADENCE)
    assert invented.fact_preservation == 0.0  # an invented fact counts the reply as 0


def test_the_eval_command_prints_one_json_object_per_system(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["voice", "eval", "--profile", "cadence", "--systems", "rules",
                                      "--limit", "5", "--json", "--outputs", str(tmp_path / "replies")],
                                env={"SUPPORTBOT_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"rules"} and doc["rules"]["n"] == 5
    assert doc["rules"]["fact_preservation"] == 1.0 and doc["rules"]["style_score"] >= 0.9
    rows = [json.loads(line) for line in (tmp_path / "replies" / "rules.jsonl").read_text().splitlines()]
    heldout = load_pairs(DATA_DIR / "cadence-heldout.jsonl")[:5]
    assert [r["id"] for r in rows] == [p.id for p in heldout]  # one row per pair, for reading
    assert all(r["guard_pass"] and r["facts"] == "facts intact" and r["reply"] for r in rows)
    bad = CliRunner().invoke(app, ["voice", "eval", "--systems", "rules,magic"],
                             env={"SUPPORTBOT_DATA_DIR": str(tmp_path / "data")})
    assert bad.exit_code == 2 and "magic" in bad.stderr


def test_the_dataset_hash_covers_what_the_adapter_sees() -> None:
    from bot.voice.dataset import dataset_hash

    pair = Pair("a", PLAIN, VOICED, question="How long do refunds take?")
    assert dataset_hash([pair]) != dataset_hash([Pair("a", PLAIN, VOICED, question="Can I get a refund?")])
    assert dataset_hash([pair]) != dataset_hash([Pair("a", PLAIN, VOICED + " 🙂", question=pair.question)])

"""The Teams app package: the shipped manifest and icons pass Teams' rules, the checks catch each kind
of mistake, and `supportbot teams package` writes an archive an admin can upload."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.console.cli import app
from adapters.teams.package import MANIFEST_DIR, ManifestError, build_package, check_manifest

APP_ID = "1b4f8c2e-6d3a-4e5f-9a7b-0c1d2e3f4a5b"
UPLOAD_HINT = "upload it in Teams (Apps → Manage your apps → Upload an app)"


def shipped() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8"))
    return doc


def filled() -> dict[str, Any]:
    doc = json.loads(json.dumps(shipped()).replace("{{TEAMS_APP_ID}}", APP_ID))
    assert isinstance(doc, dict)
    return doc


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, rows): an independent reader for 8-bit RGB/RGBA PNGs, all five filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride, rows, prev = width * channels, [], bytes(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]) & 0xFF
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, channels, rows


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


# --- the shipped manifest ---------------------------------------------------------------------------

def test_the_shipped_manifest_is_valid_once_the_app_id_is_filled_in() -> None:
    raw = shipped()
    assert raw["manifestVersion"] == "1.19" and "/teams/v1.19/" in raw["$schema"]
    assert raw["id"] == raw["bots"][0]["botId"] == "{{TEAMS_APP_ID}}"
    assert check_manifest(raw) == [
        "id must be a GUID, not '{{TEAMS_APP_ID}}'", "bots[0].botId must be a GUID, not '{{TEAMS_APP_ID}}'",
        "a placeholder ({{...}}) is left unreplaced"]
    assert check_manifest(filled()) == []
    bot = raw["bots"][0]
    personal, shared = bot["commandLists"]
    assert personal["scopes"] == ["personal"]
    assert [c["title"] for c in personal["commands"]] == ["reload", "status", "rollback", "help"]
    assert shared["scopes"] == ["team", "groupChat"] and [c["title"] for c in shared["commands"]] == ["help"]
    assert raw["permissions"] == ["identity", "messageTeamMembers"] and raw["validDomains"] == []
    assert "webApplicationInfo" not in raw and "packageName" not in raw


def set_at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value

    return change


def delete(key: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        del doc[key]

    return change


def many_commands(doc: dict[str, Any]) -> None:
    doc["bots"][0]["commandLists"][0]["commands"] = [
        {"title": f"c{i}", "description": "d"} for i in range(11)]


@pytest.mark.parametrize(("change", "expected"), [
    (delete("accentColor"), "missing required field 'accentColor'"),
    (delete("developer"), "missing required field 'developer'"),
    (set_at("packageName", "com.example.supportbot"), "unknown field 'packageName'"),
    (set_at("manifestVersion", "1.16"), "manifestVersion must be '1.19'"),
    (set_at("version", "1.0"), "version must be MAJOR.MINOR.PATCH"),
    (set_at("id", "supportbot"), "id must be a GUID"),
    (set_at("accentColor", "#FFF"), "accentColor must be #RRGGBB"),
    (set_at("name.short", "s" * 31), "name.short is 31 characters; at most 30"),
    (set_at("description.short", "s" * 81), "description.short is 81 characters; at most 80"),
    (set_at("description.full", "s" * 4001), "description.full is 4001 characters; at most 4000"),
    (set_at("developer.privacyUrl", "http://example.com/privacy"), "developer.privacyUrl must be an https://"),
    (set_at("icons", {"color": "color.png"}), "icons.outline must name a .png file"),
    (set_at("icons.color", "art/color.png"), "icons.color must name a .png file beside manifest.json"),
    (set_at("bots.0.scopes", ["personal", "team"]), "bots[0].scopes lacks groupChat"),
    (set_at("bots.0.scopes", ["personal", "team", "groupchat"]), "unknown scopes ['groupchat']"),
    (set_at("bots.0.botId", "{{TEAMS_APP_ID}}"), "a placeholder ({{...}}) is left unreplaced"),
    (many_commands, "has 11 commands; at most 10"),
    (set_at("bots.0.commandLists.0.commands.0.title", "t" * 33), "commands[0].title must be 1 to 32"),
    (set_at("bots.0.commandLists.1.commands.0.description", "d" * 129),
     "commandLists[1].commands[0].description must be 1 to 128"),
    (set_at("bots.0.commandLists.0.commands.1.title", "reload"), "lists the command 'reload' twice"),
    (set_at("bots", []), "bots must list exactly one bot"),
    (set_at("permissions", ["identity", "Group.Read.All"]), "permissions may only list"),
])
def test_check_manifest_names_each_kind_of_problem(change: Callable[[dict[str, Any]], None],
                                                   expected: str) -> None:
    doc = copy.deepcopy(filled())
    change(doc)
    problems = check_manifest(doc)
    assert any(expected in p for p in problems), problems


def test_check_manifest_survives_fields_of_the_wrong_type() -> None:
    doc = filled()
    doc.update(name="supportbot", icons=["color.png"], bots=[{"botId": APP_ID, "scopes": "personal",
                                                                "commandLists": [{"commands": "help"}]}])
    problems = check_manifest(doc)
    assert "name must be an object" in problems
    assert "icons must be an object naming the color and outline PNGs" in problems
    assert "bots[0].scopes lacks personal, team, groupChat" in problems
    assert "bots[0].commandLists[0] must have scopes and a list of commands" in problems


# --- build_package ----------------------------------------------------------------------------------

def test_build_package_writes_the_manifest_and_icons_at_the_zip_root(tmp_path: Path) -> None:
    out = tmp_path / "pkg" / "supportbot-teams.zip"
    assert build_package(APP_ID, out=out) == out
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        text = z.read("manifest.json").decode("utf-8")
    manifest = json.loads(text)
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert "{{" not in text
    assert manifest["description"] == shipped()["description"]
    assert check_manifest(manifest) == []
    assert not [p.name for p in out.parent.iterdir() if p.name != out.name], "no partial file left behind"


def test_the_packaged_icons_are_the_sizes_and_colours_teams_asks_for(tmp_path: Path) -> None:
    out = build_package(APP_ID, out=tmp_path / "app.zip")
    with zipfile.ZipFile(out) as z:
        width, height, channels, rows = decode_png(z.read("color.png"))
        assert (width, height) == (192, 192)
        pixels = {row[i:i + channels] for row in rows for i in range(0, len(row), channels)}
        assert len(pixels) > 2, "a full-colour icon, not a blank square"
        assert channels == 3 or all(p[3] == 255 for p in pixels), "opaque"

        width, height, channels, rows = decode_png(z.read("outline.png"))
        assert (width, height, channels) == (32, 32, 4)
        pixels = {row[i:i + 4] for row in rows for i in range(0, len(row), 4)}
        assert all(p[:3] == b"\xff\xff\xff" for p in pixels), "outline icons are white on transparent"
        alphas = {p[3] for p in pixels}
        assert 0 in alphas and 255 in alphas
        assert len(z.read("color.png")) < 8_000 and len(z.read("outline.png")) < 2_000


def test_the_committed_icons_are_what_make_icons_draws() -> None:
    spec = importlib.util.spec_from_file_location("make_icons", MANIFEST_DIR / "make_icons.py")
    assert spec is not None and spec.loader is not None
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    assert make_icons.outline_icon() == (MANIFEST_DIR / "outline.png").read_bytes()
    assert make_icons.color_icon() == (MANIFEST_DIR / "color.png").read_bytes()


@pytest.mark.parametrize("bad", ["", "not-a-guid", "{{TEAMS_APP_ID}}", APP_ID + "0", APP_ID.replace("-", "")])
def test_build_package_refuses_an_app_id_that_is_not_a_guid(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "app.zip"
    with pytest.raises(ValueError, match="TEAMS_APP_ID must be the bot's Microsoft App ID, a GUID"):
        build_package(bad, out=out)
    assert not out.exists()


def test_build_package_refuses_an_icon_of_the_wrong_size_and_keeps_the_old_package(tmp_path: Path) -> None:
    source = tmp_path / "manifest"
    shutil.copytree(MANIFEST_DIR, source)
    shutil.copy(source / "color.png", source / "outline.png")
    out = tmp_path / "app.zip"
    out.write_bytes(b"the previous package")
    with pytest.raises(ManifestError) as caught:
        build_package(APP_ID, out=out, manifest_dir=source)
    assert caught.value.problems == ["the outline icon is 192x192; Teams needs 32x32"]
    assert out.read_bytes() == b"the previous package"


def test_build_package_refuses_a_broken_manifest_naming_the_problem(tmp_path: Path) -> None:
    source = tmp_path / "manifest"
    shutil.copytree(MANIFEST_DIR, source)
    doc = shipped()
    doc["packageName"] = "com.example.supportbot"
    (source / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ManifestError, match="unknown field 'packageName'"):
        build_package(APP_ID, out=tmp_path / "app.zip", manifest_dir=source)
    assert not (tmp_path / "app.zip").exists()


def test_the_note_ends_the_full_description_and_builds_are_reproducible(tmp_path: Path) -> None:
    note = "Run by IT support; messages go to https://bot.example.com/api/messages."
    first = build_package(APP_ID, out=tmp_path / "a.zip", bot_endpoint_note=note)
    second = build_package(APP_ID, out=tmp_path / "b.zip", bot_endpoint_note=note)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        full = json.loads(z.read("manifest.json"))["description"]["full"]
    assert full == shipped()["description"]["full"] + "\n\n" + note
    with pytest.raises(ManifestError, match="description.full is 4[0-9]{3} characters"):
        build_package(APP_ID, out=tmp_path / "c.zip", bot_endpoint_note="x" * 4000)


# --- supportbot teams package -----------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """The CLI run in an empty folder (no .env) with TEAMS_APP_ID unset unless a test sets it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEAMS_APP_ID", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["teams", "package", *args])


def test_cli_writes_the_package_for_the_app_id_in_the_environment(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    result = cli()
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote supportbot-teams.zip: {UPLOAD_HINT}\n"
    with zipfile.ZipFile(tmp_path / "supportbot-teams.zip") as z:
        assert json.loads(z.read("manifest.json"))["bots"][0]["botId"] == APP_ID

    elsewhere = tmp_path / "out" / "teams.zip"
    result = cli("--out", str(elsewhere))
    assert result.exit_code == 0 and result.stdout == f"Wrote {elsewhere}: {UPLOAD_HINT}\n"
    assert zipfile.ZipFile(elsewhere).namelist()


def test_cli_without_an_app_id_says_what_to_set_in_one_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli()
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "set it to the bot's Microsoft App ID" in line
    assert "TEAMS_APP_ID" in line
    assert not (tmp_path / "supportbot-teams.zip").exists()


def test_cli_with_an_app_id_that_is_not_a_guid_exits_2(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", "my-bot")
    result = cli()
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: TEAMS_APP_ID must be the bot's Microsoft App ID, a GUID like 00000000-0000-0000-0000-000000000000"
    ]
    assert not (tmp_path / "supportbot-teams.zip").exists()

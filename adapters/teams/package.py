"""The Teams app package: manifest.json with the bot's app id filled in, and the two icons, zipped at
the root of the archive as Teams requires to upload an app
(https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package).

The checks follow the manifest schema v1.19
(https://developer.microsoft.com/json-schemas/teams/v1.19/MicrosoftTeams.schema.json), so a package
that Teams would refuse is refused here first, with every problem named."""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(__file__).resolve().parent / "manifest"
MANIFEST_VERSION = "1.19"
PLACEHOLDER = "{{TEAMS_APP_ID}}"
APP_ID_INVALID = (
    "TEAMS_APP_ID must be the bot's Microsoft App ID, a GUID like 00000000-0000-0000-0000-000000000000"
)

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
URL = re.compile(r"^https://\S+$", re.IGNORECASE)  # the schema allows http; Teams' validation does not

REQUIRED = ("manifestVersion", "version", "id", "developer", "name", "description", "icons", "accentColor")
# Every top-level field schema v1.19 allows: it rejects any other (packageName went in v1.17).
KNOWN = frozenset({
    "$schema", "manifestVersion", "version", "id", "localizationInfo", "developer", "name", "description",
    "icons", "accentColor", "configurableTabs", "staticTabs", "bots", "connectors", "subscriptionOffer",
    "composeExtensions", "permissions", "devicePermissions", "validDomains", "webApplicationInfo",
    "graphConnector", "showLoadingIndicator", "isFullScreen", "activities", "configurableProperties",
    "supportedChannelTypes", "defaultBlockUntilAdminAction", "publisherDocsUrl", "defaultInstallScope",
    "defaultGroupCapability", "meetingExtensionDefinition", "authorization", "extensions", "dashboardCards",
    "copilotAgents",
})
BOT_SCOPES = ("personal", "team", "groupChat")
PERMISSIONS = frozenset({"identity", "messageTeamMembers"})
LENGTHS = {  # (object, field): most characters, as the schema caps them
    ("developer", "name"): 32, ("name", "short"): 30, ("name", "full"): 100,
    ("description", "short"): 80, ("description", "full"): 4000,
}
MAX_COMMAND_LISTS, MAX_COMMANDS, MAX_TITLE, MAX_COMMAND_DESCRIPTION = 3, 10, 32, 128
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same inputs give the same archive, byte for byte


class ManifestError(ValueError):
    """The manifest or its icons would not pass Teams' checks; ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the Teams app manifest is not valid: " + "; ".join(problems))
        self.problems = problems


def check_manifest(doc: Mapping[str, Any]) -> list[str]:
    """Every way ``doc`` breaks the v1.19 schema rules this app relies on; empty when it is valid."""
    problems = [f"missing required field {f!r}" for f in REQUIRED if f not in doc]
    problems += [f"unknown field {f!r}: manifest schema {MANIFEST_VERSION} does not allow it"
                 for f in doc if f not in KNOWN]
    if "manifestVersion" in doc and doc["manifestVersion"] != MANIFEST_VERSION:
        problems.append(f"manifestVersion must be {MANIFEST_VERSION!r} (the schema these checks follow)")
    if "version" in doc and not _matches(SEMVER, doc["version"]):
        problems.append(f"version must be MAJOR.MINOR.PATCH (semver), not {doc['version']!r}")
    if "id" in doc and not _matches(GUID, doc["id"]):
        problems.append(f"id must be a GUID, not {doc['id']!r}")
    if "accentColor" in doc and not _matches(HEX_COLOUR, doc["accentColor"]):
        problems.append(f"accentColor must be #RRGGBB, not {doc['accentColor']!r}")
    problems += _check_texts(doc)
    problems += _check_icons_named(doc)
    problems += _check_bots(doc)
    permissions = doc.get("permissions", [])
    if not isinstance(permissions, list) or not set(permissions) <= PERMISSIONS:
        problems.append(f"permissions may only list {sorted(PERMISSIONS)}, not {permissions!r}")
    if "{{" in json.dumps(doc):
        problems.append("a placeholder ({{...}}) is left unreplaced")
    return problems


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None


def _check_texts(doc: Mapping[str, Any]) -> list[str]:
    problems = []
    for obj in ("developer", "name", "description"):
        if obj in doc and not isinstance(doc[obj], dict):
            problems.append(f"{obj} must be an object")
    for (obj, field), most in LENGTHS.items():
        parent = doc.get(obj)
        if not isinstance(parent, dict):
            continue
        value = parent.get(field)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{obj}.{field} is required")
        elif len(value) > most:
            problems.append(f"{obj}.{field} is {len(value)} characters; at most {most}")
    developer = doc.get("developer")
    if isinstance(developer, dict):
        for field in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
            if not _matches(URL, developer.get(field)):
                problems.append(f"developer.{field} must be an https:// URL")
    return problems


def _check_icons_named(doc: Mapping[str, Any]) -> list[str]:
    icons = doc.get("icons")
    if "icons" not in doc:
        return []
    if not isinstance(icons, dict):
        return ["icons must be an object naming the color and outline PNGs"]
    problems = []
    for kind in ICON_SIZES:
        name = icons.get(kind)
        if not isinstance(name, str) or not name.lower().endswith(".png") or "/" in name or "\\" in name:
            problems.append(f"icons.{kind} must name a .png file beside manifest.json, not {name!r}")
    return problems


def _check_bots(doc: Mapping[str, Any]) -> list[str]:
    bots = doc.get("bots")
    if not isinstance(bots, list) or len(bots) != 1 or not isinstance(bots[0], dict):
        return ["bots must list exactly one bot"]
    bot = bots[0]
    problems = []
    if not _matches(GUID, bot.get("botId")):
        problems.append(f"bots[0].botId must be a GUID, not {bot.get('botId')!r}")
    scopes = bot.get("scopes")
    scopes = scopes if isinstance(scopes, list) else []
    missing = [s for s in BOT_SCOPES if s not in scopes]
    if missing:
        problems.append(f"bots[0].scopes lacks {', '.join(missing)}")
    unknown = [s for s in scopes if s not in BOT_SCOPES]
    if unknown:
        problems.append(f"bots[0].scopes has unknown scopes {unknown} (the schema spells groupChat so)")
    lists = bot.get("commandLists", [])
    if not isinstance(lists, list) or len(lists) > MAX_COMMAND_LISTS:
        return [*problems, f"bots[0].commandLists must be a list of at most {MAX_COMMAND_LISTS}"]
    for i, entry in enumerate(lists):
        problems += _check_command_list(f"bots[0].commandLists[{i}]", entry, scopes)
    return problems


def _check_command_list(where: str, entry: object, bot_scopes: list[str]) -> list[str]:
    if not isinstance(entry, dict) or not isinstance(entry.get("commands"), list):
        return [f"{where} must have scopes and a list of commands"]
    problems = []
    list_scopes = entry.get("scopes")
    if not isinstance(list_scopes, list) or not list_scopes or not set(list_scopes) <= set(bot_scopes):
        problems.append(f"{where}.scopes must be some of the bot's scopes, not {list_scopes!r}")
    commands = entry["commands"]
    if len(commands) > MAX_COMMANDS:
        problems.append(f"{where} has {len(commands)} commands; at most {MAX_COMMANDS}")
    titles: set[str] = set()
    for j, command in enumerate(commands):
        title = command.get("title") if isinstance(command, dict) else None
        text = command.get("description") if isinstance(command, dict) else None
        if not isinstance(title, str) or not title or len(title) > MAX_TITLE:
            problems.append(f"{where}.commands[{j}].title must be 1 to {MAX_TITLE} characters")
        elif title in titles:
            problems.append(f"{where} lists the command {title!r} twice")
        else:
            titles.add(title)
        if not isinstance(text, str) or not text or len(text) > MAX_COMMAND_DESCRIPTION:
            problems.append(f"{where}.commands[{j}].description must be 1 to {MAX_COMMAND_DESCRIPTION} "
                            "characters")
    return problems


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError when ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def check_icons(icons: Mapping[str, bytes]) -> list[str]:
    """Problems with the icon files, by kind ("color", "outline"): each a PNG of the size Teams asks."""
    problems = []
    for kind, want in ICON_SIZES.items():
        try:
            size = png_size(icons[kind])
        except (KeyError, ValueError):
            problems.append(f"the {kind} icon must be a PNG file")
            continue
        if size != want:
            problems.append(f"the {kind} icon is {size[0]}x{size[1]}; Teams needs {want[0]}x{want[1]}")
    return problems


def _fill(value: Any, app_id: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, app_id)
    if isinstance(value, list):
        return [_fill(v, app_id) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, app_id) for k, v in value.items()}
    return value


def build_package(
    app_id: str, *, out: Path, bot_endpoint_note: str | None = None, manifest_dir: Path = MANIFEST_DIR
) -> Path:
    """Write the app package to ``out`` (a .zip to upload in Teams) and return its path.

    ``app_id`` (the bot's Microsoft App ID) fills every ``{{TEAMS_APP_ID}}``; ``bot_endpoint_note``, if
    given, is added as a last paragraph of the full description (admins see it in the app's details),
    e.g. who runs the bot. Raises ValueError for an app id that is not a GUID and ManifestError, naming
    each problem, for a manifest or icon Teams would refuse; ``out`` is replaced only on success."""
    app_id = app_id.strip()
    if not GUID.match(app_id):
        raise ValueError(APP_ID_INVALID)
    doc = _fill(json.loads((manifest_dir / "manifest.json").read_text(encoding="utf-8")), app_id)
    if bot_endpoint_note and isinstance(doc.get("description"), dict):
        doc["description"]["full"] = f"{doc['description'].get('full', '')}\n\n{bot_endpoint_note.strip()}"
    problems = check_manifest(doc)
    if problems:
        raise ManifestError(problems)
    names = {kind: doc["icons"][kind] for kind in ICON_SIZES}
    icons = {kind: (manifest_dir / name).read_bytes() for kind, name in names.items()
             if (manifest_dir / name).is_file()}
    problems = check_icons(icons)
    if problems:
        raise ManifestError(problems)
    files = {"manifest.json": json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")}
    files.update({names[kind]: data for kind, data in icons.items()})
    _write_zip(out, files)
    return out


def _write_zip(out: Path, files: Mapping[str, bytes]) -> None:
    """Every file at the archive's root, written beside ``out`` and renamed over it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)

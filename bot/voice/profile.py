"""A voice profile: how the brand sounds, as rules a linter can score and a rewriter can apply.

One YAML file per profile (``bot/voice/profiles/cadence.yml`` is the sample product's, documented
field by field). A broken file is refused with the field and the problem (``ProfileError``);
``VoiceLibrary`` keeps the last good version of each profile while its file is being fixed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

log = logging.getLogger(__name__)

PROFILES_DIR = Path(__file__).parent / "profiles"
PLATFORMS = ("slack", "teams", "console")
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Mode(StrEnum):
    REQUIRED = "required"  # the rewriter adds one; the linter fails a reply without one
    OPTIONAL = "optional"  # one of ``phrases`` or none
    NEVER = "never"  # the rewriter removes one; the linter fails a reply with one


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bookend(_Strict):
    """A greeting or sign-off rule: when, and which phrases (the rewriter uses the first)."""

    mode: Mode = Mode.OPTIONAL
    phrases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _phrases_for_required(self) -> Bookend:
        if self.mode == Mode.REQUIRED and not self.phrases:
            raise ValueError("mode is required but no phrases are given; list at least one phrase")
        if any(not p.strip() for p in self.phrases):
            raise ValueError("a phrase is empty; remove it")
        return self


class Replacement(_Strict):
    """A phrase never to use, and what to write instead ("" = drop it)."""

    phrase: str = Field(min_length=1)
    replacement: str = ""


class Term(_Strict):
    """A preferred term and the words it replaces ("sign in", not "log in")."""

    use: str = Field(min_length=1)
    instead_of: tuple[str, ...] = Field(min_length=1)


class Emoji(_Strict):
    allowed: bool = True
    max: int = Field(1, ge=0, le=20)
    only: tuple[str, ...] = ()  # if set, the only emoji allowed


class PlatformFormat(_Strict):
    """What one surface renders well; unset fields follow the profile."""

    emoji: bool | None = None
    max_words: int | None = Field(None, ge=20)
    headings: bool = False  # False: a Markdown heading becomes a bold line


class VoiceProfile(_Strict):
    name: str
    brand: str = Field(min_length=1)
    assistant_name: str = Field(min_length=1)
    persona: str = Field(min_length=1)
    tone: tuple[str, ...] = Field(min_length=1)
    greeting: Bookend = Bookend()
    sign_off: Bookend = Bookend()
    banned_phrases: tuple[Replacement, ...] = ()
    preferred_terms: tuple[Term, ...] = ()
    emoji: Emoji = Emoji()
    max_words: int = Field(180, ge=20, le=2000)
    max_exclamations: int = Field(2, ge=0, le=20)
    reading_grade: float = Field(9.0, ge=1, le=20, description="Flesch-Kincaid grade level, at most")
    protected_terms: tuple[str, ...] = ()  # product and feature names: never changed
    formatting: dict[str, PlatformFormat] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROFILE_NAME.match(value):
            raise ValueError("use lowercase letters, digits, '-' or '_' (at most 40), e.g. 'cadence'")
        return value

    @field_validator("formatting")
    @classmethod
    def _platforms(cls, value: dict[str, PlatformFormat]) -> dict[str, PlatformFormat]:
        unknown = sorted(set(value) - set(PLATFORMS))
        if unknown:
            raise ValueError(f"unknown platform {unknown[0]!r}; use {', '.join(PLATFORMS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VoiceProfile:
        banned = {b.phrase.casefold() for b in self.banned_phrases}
        for phrase in (*self.greeting.phrases, *self.sign_off.phrases):
            if any(b in phrase.casefold() for b in banned):
                raise ValueError(f"the phrase {phrase!r} uses a banned phrase; reword one of them")
        for term in self.preferred_terms:
            if term.use.casefold() in {w.casefold() for w in term.instead_of}:
                raise ValueError(f"preferred term {term.use!r} is also in its own instead_of list")
        return self

    def for_platform(self, platform: str) -> PlatformFormat:
        """The platform's formatting with the profile's values filled in."""
        fmt = self.formatting.get(platform, PlatformFormat())
        return PlatformFormat(emoji=self.emoji.allowed if fmt.emoji is None else fmt.emoji,
                              max_words=fmt.max_words or self.max_words, headings=fmt.headings)


class ProfileError(ValueError):
    """A profile the bot cannot use; the message names the file, the field and the problem."""


def load_profile(path: Path) -> VoiceProfile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte offset {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{path}: invalid YAML{where}; fix the syntax there") from None
    return parse_profile(doc, source=str(path), default_name=path.stem)


def parse_profile(doc: object, *, source: str = "<profile>", default_name: str = "") -> VoiceProfile:
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: the top level must be a mapping of profile fields")
    data: dict[str, Any] = {"name": default_name, **doc}
    try:
        return VoiceProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        problem = _problem(first["type"], str(first["msg"]), first.get("ctx") or {})
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ProfileError(f"{source}: {where}: {problem}{more}") from None


def _problem(kind: str, msg: str, ctx: dict[str, Any]) -> str:
    """Pydantic's message in a support lead's words."""
    if kind == "extra_forbidden":
        return "is not a profile field; check the spelling (see bot/voice/profiles/cadence.yml)"
    if kind == "missing":
        return "is required"
    if kind in ("too_short", "string_too_short"):
        n = ctx.get("min_length", 1)
        return "must not be empty" if kind == "string_too_short" else f"needs at least {n} item(s)"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}"
    return msg.removeprefix("Value error, ").replace("Input should be", "must be")


class VoiceLibrary:
    """The profiles in a folder, by name, re-read when a file changes (checked at most every
    ``check_every_s``). A file that breaks keeps its last good version in use, with one warning."""

    def __init__(self, folder: Path = PROFILES_DIR, *, check_every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self.check_every_s = check_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._profiles: dict[str, tuple[float, VoiceProfile]] = {}  # name -> (mtime read, profile)
        self._checked: dict[str, float] = {}
        self.errors: dict[str, str] = {}  # name -> the last problem met with its file

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.yml"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yml")) if self.folder.is_dir() else []

    def get(self, name: str) -> VoiceProfile:
        """The profile; ``ProfileError`` if it has never loaded (unknown name or broken from the start)."""
        with self._lock:
            now = self._clock()
            known = self._profiles.get(name)
            if known is not None and now - self._checked.get(name, 0.0) < self.check_every_s:
                return known[1]
            self._checked[name] = now
            path = self.path(name)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                if known is not None:
                    return known[1]
                there = ", ".join(self.names()) or "none"
                raise ProfileError(f"no voice profile {name!r} in {self.folder} (there: {there})") from None
            if known is not None and known[0] == mtime:
                return known[1]
            try:
                profile = load_profile(path)
            except ProfileError as exc:
                self.errors[name] = str(exc)
                if known is None:
                    raise
                log.warning("voice profile %s is broken, keeping the last good one: %s", name, exc)
                self._profiles[name] = (mtime, known[1])  # warn once per change of the file
                return known[1]
            self.errors.pop(name, None)
            self._profiles[name] = (mtime, profile)
            return profile

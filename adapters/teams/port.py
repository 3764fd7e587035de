"""Our port to the Bot Framework: what the Teams handler needs of a turn and of the transport, in plain
activity dicts. ``adapters/teams/botframework.py`` implements it with botbuilder; a move to the
Microsoft 365 Agents SDK implements it again and leaves the rest of ``adapters/teams`` alone."""

from __future__ import annotations

from typing import Any, Protocol


class Unauthorized(Exception):
    """The request's token is missing or not valid: answer 401, send nothing."""


class TeamsTurn(Protocol):
    """One incoming activity and the ways to answer it."""

    activity: dict[str, Any]  # the incoming activity, as Teams sent it (camelCase JSON)

    async def send(self, activity: dict[str, Any]) -> str:
        """Send a reply in this conversation (in a channel thread, into the thread); the sent id."""
        ...

    async def respond_invoke(self, status: int = 200, body: Any = None) -> None:
        """The HTTP answer to an invoke activity (feedback: 200 and an empty body)."""
        ...

    def reference(self) -> dict[str, Any]:
        """The conversation reference, for sending into this conversation later."""
        ...


class Transport(Protocol):
    """Sending outside a turn."""

    async def send_proactive(self, reference: dict[str, Any], activities: list[dict[str, Any]]) -> list[str]:
        ...

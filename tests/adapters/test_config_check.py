"""`supportbot config check` as an operator runs it: secrets masked, one line per problem, exit 1."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REDIS_URL, SUPPORTBOT, free_port


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([SUPPORTBOT, "config", "check"], capture_output=True, text=True, cwd=tmp_path,
                          env={**base, **env}, timeout=120)


def test_problems_are_one_line_each_and_secrets_never_shown(tmp_path: Path) -> None:
    bad_policy = tmp_path / "channels.yml"
    bad_policy.write_text("channels:\n  C0X:\n    respond: sometimes\n", encoding="utf-8")
    done = check(tmp_path, SLACK_BOT_TOKEN="xoxb-very-secret", SLACK_SIGNING_SECRET="signing-very-secret",
                 OPENAI_BASE_URL="ftp://models.example", SUPPORTBOT_CHANNELS_FILE=str(bad_policy),
                 REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", SUPPORTBOT_HELPCENTRE_DIR=str(tmp_path / "no"))
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("error: ") for line in errors)
    joined = "\n".join(errors)
    assert "channels.C0X.respond" in joined and "OPENAI_BASE_URL" in joined
    assert "REDIS_URL is unreachable" in joined and "SUPPORTBOT_HELPCENTRE_DIR" in joined
    assert "set (hidden)" in done.stdout
    assert "very-secret" not in done.stdout + done.stderr


def test_no_platform_is_a_problem_and_a_good_configuration_passes(tmp_path: Path) -> None:
    nothing = check(tmp_path)
    assert nothing.returncode == 1 and "no chat platform is configured" in nothing.stderr
    good = check(tmp_path, SUPPORTBOT_TEAMS_DEV_NO_AUTH="1", REDIS_URL=REDIS_URL)
    assert good.returncode == 0, good.stderr
    assert "No problems found." in good.stdout and "SUPPORTBOT_TEAMS_DEV_NO_AUTH" in good.stdout

"""Every user-facing string of the Slack adapter, reviewed in one place (house style, conventions 7).
The core's own replies (not covered, slow down, busy, ratings) live in ``bot.messages``."""

from dataclasses import dataclass

HELP = (
    "Hi! I answer questions from the help centre, with links to the articles I used. "
    "Mention me with a question, or send me a direct message. For example:"
)
CHANNEL_OFF = (
    "I don't answer questions in this channel. Send me a direct message and I'll look it up there."
)
WELCOME = "Hi! Ask me anything about the product. I answer from the help centre and link the articles I used."
TRY_ONE = "Or try one of these:"
YOU_ASKED = "You asked: {question}"
WORKING_STATUS = "is looking this up in the help centre…"
ERROR = "Sorry, something went wrong on my side while answering. Please try again in a moment."
TOO_LONG = (
    "That message is too long for me to look up ({chars:,} characters). "
    "Please ask the question in a sentence or two."
)

# "Ask a person"
ESCALATED_CHANNEL = "I've asked the support team in <#{channel}> to help. They'll reply here."
ESCALATED_USER = "I've asked <@{user}> from the support team to help. They'll reply here."
ESCALATED_GROUP = "<!subteam^{group}> could someone help with this question?"
ESCALATION_LOGGED = (
    "I've logged that you'd like a person to help. No support channel is set up for this channel yet, "
    "so please also reach out to your support team directly."
)
ESCALATION_FAILED = (
    "I couldn't reach the support team just now ({error}). Please try again in a minute."
)
RESOLVED = "Marked resolved."

# /kb
KB_USAGE = (
    "*/kb* manages the help-centre index:\n"
    "• `/kb reload`: read the help centre again and switch to the new version\n"
    "• `/kb status`: the live and previous versions and the last reload\n"
    "• `/kb rollback`: go back to the previous version\n"
    "• `/kb help`: this message"
)
KB_NOT_ADMIN = (
    "Only help-centre admins can run `/kb {command}`. Ask an admin to add your user id ({user}) to "
    "SLACK_ADMIN_USERS."
)
KB_UNKNOWN = "I don't know `/kb {command}`.\n"
KB_RELOADING = "Reloading the help centre… I'll post the result here. Questions are answered meanwhile."
KB_NO_DIR = (
    "I don't know where the help centre is: set SUPPORTBOT_HELPCENTRE_DIR on the server, then try again."
)
KB_DIR_MISSING = "The help-centre folder {path} doesn't exist on the server. Check SUPPORTBOT_HELPCENTRE_DIR."
KB_RELOAD_DONE = (
    "*Help centre reloaded* (version {version}, {seconds:.1f} s): {added} added, {updated} updated, "
    "{removed} removed, {unchanged} unchanged; {documents} articles in {chunks} chunks."
)
KB_RELOAD_NOTHING = (
    "*Help centre checked* ({seconds:.1f} s): nothing changed; {documents} articles, now version {version}."
)
KB_CHANGED = "{label}: {names}"
KB_SKIPPED = "Skipped {count} file(s):"
KB_SKIPPED_LINE = "• `{path}`: {reason}"
KB_RELOAD_FAILED = "*Reload failed*: {error}. The live version ({version}) keeps answering."
KB_ALREADY_RUNNING = "A reload is already running ({holder}). Wait for it to finish, then try again."
KB_STATUS = (
    "*Help centre*: version {current} live (previous: {previous}), {documents} articles in {chunks} "
    "chunks, switched {swapped}."
)
KB_STATUS_LAST = "Last reload: {added} added, {updated} updated, {removed} removed, {skipped} skipped."
KB_STATUS_RUNNING = "A reload is running now ({holder})."
KB_NOTHING = "Nothing has been indexed yet. Run `/kb reload`."
KB_ROLLED_BACK = "Rolled back: version {current} is live again (version {previous} kept for a roll forward)."
KB_ROLLBACK_FAILED = "Couldn't roll back: {error}."


# The wording of answer messages and escalation briefs (adapters/slack/blocks.py)
@dataclass(frozen=True)
class SlackStrings:
    """Every user-facing string of our Slack messages, so tone and wording are reviewed in one place."""

    helpful: str = "Helpful"
    not_helpful: str = "Not helpful"
    helpful_label: str = "This answer helped"  # read by screen readers instead of the button text
    not_helpful_label: str = "This answer didn't help"
    ask_person: str = "Ask a person"
    low_confidence: str = "I'm not fully sure about this one; check the linked articles."
    sources_label: str = "Sources"
    no_answer: str = "Sorry, I don't have an answer for that."
    more: str = "…"  # ends an answer cut short to fit one message
    escalation_title: str = "A person asked for help"
    asked: str = "<@{user}> asked:"
    bot_answer: str = "What I answered:"
    no_bot_answer: str = "I didn't answer this one."
    open_thread: str = "Open the thread"
    mark_resolved: str = "Mark resolved"
    resolved_by: str = "Resolved by <@{user}>"


DEFAULT_STRINGS = SlackStrings()

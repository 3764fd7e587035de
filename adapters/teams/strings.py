"""Every user-facing string of the Teams adapter, reviewed in one place (house style, conventions 7).
The core's own replies (not covered, slow down, busy, ratings) live in ``bot.messages``."""

# Answers (adapters/teams/convert.py)
LOW_CONFIDENCE = "I'm not fully sure about this one; check the cited articles."
NO_ANSWER = "Sorry, I don't have an answer for that."
ASK_PERSON = "Ask a person"
ASK_PERSON_HINT = "Not what you needed?"

# The brief the support team gets when someone asks for a person
ESCALATION_TITLE = "A person asked for help"
ASKED = "{name} asked in {where}:"
SOMEONE = "Someone"
SOMEWHERE = "a chat"
BOT_ANSWER = "What I answered:"
NO_BOT_ANSWER = "I didn't answer this one."
SOURCES = "Sources:"

# Conversations (adapters/teams/handler.py)
HELP = (
    "Hi! I answer questions from the help centre and cite the articles I used. Ask me anything here, "
    "or @mention me in a channel."
)
WELCOME = (
    "Hi! I'm supportbot. Ask me anything about the product and I'll answer from the help centre, with "
    "the articles I used. In a channel, @mention me."
)
CHANNEL_OFF = "I don't answer questions in this channel. Send me a message in a 1:1 chat instead."
TOO_LONG = (
    "That message is too long for me to look up ({chars:,} characters). "
    "Please ask the question in a sentence or two."
)
ERROR = "Sorry, something went wrong on my side while answering. Please try again in a moment."
ESCALATED = "I've asked the support team to help with this. Someone will get back to you."
ESCALATION_NONE = (
    "I've logged that you'd like a person to help. No support channel is set up for this conversation, "
    "so please also contact your support team directly."
)
ESCALATION_FAILED = "I couldn't reach the support team just now. Please try again in a minute."

# Admin commands in a 1:1 chat (adapters/kb_admin.py), in Teams markdown
KB_USAGE = (
    "**Admin commands** (1:1 chat only):\n\n"
    "- `reload`: read the help centre again and switch to the new version\n"
    "- `status`: the live and previous versions and the last reload\n"
    "- `rollback`: go back to the previous version\n"
    "- `help`: this message"
)
KB_NOT_ADMIN = (
    "Only help-centre admins can run `{command}`. Ask an admin to add your Azure AD object id ({user}) to "
    "TEAMS_ADMIN_IDS."
)
KB_UNKNOWN = "I don't know `{command}`.\n\n"
KB_RELOADING = "Reloading the help centre… I'll send the result here. Questions are answered meanwhile."
KB_NO_DIR = (
    "I don't know where the help centre is: set SUPPORTBOT_HELPCENTRE_DIR on the server, then try again."
)
KB_DIR_MISSING = "The help-centre folder {path} doesn't exist on the server. Check SUPPORTBOT_HELPCENTRE_DIR."
KB_RELOAD_DONE = (
    "**Help centre reloaded** (version {version}, {seconds:.1f} s): {added} added, {updated} updated, "
    "{removed} removed, {unchanged} unchanged; {documents} articles in {chunks} chunks."
)
KB_RELOAD_NOTHING = (
    "**Help centre checked** ({seconds:.1f} s): nothing changed; {documents} articles, now version {version}."
)
KB_CHANGED = "{label}: {names}"
KB_SKIPPED = "Skipped {count} file(s):"
KB_SKIPPED_LINE = "- `{path}`: {reason}"
KB_RELOAD_FAILED = "**Reload failed**: {error}. The live version ({version}) keeps answering."
KB_ALREADY_RUNNING = "A reload is already running ({holder}). Wait for it to finish, then try again."
KB_STATUS = (
    "**Help centre**: version {current} live (previous: {previous}), {documents} articles in {chunks} "
    "chunks, switched {swapped}."
)
KB_STATUS_LAST = "Last reload: {added} added, {updated} updated, {removed} removed, {skipped} skipped."
KB_STATUS_RUNNING = "A reload is running now ({holder})."
KB_NOTHING = "Nothing has been indexed yet. Send `reload`."
KB_ROLLED_BACK = "Rolled back: version {current} is live again (version {previous} kept for a roll forward)."
KB_ROLLBACK_FAILED = "Couldn't roll back: {error}."

"""Every user-facing string of the console adapter (the `supportbot` CLI), reviewed in one place."""

APP_HELP = (
    "supportbot: answers from your help centre, with citations.\n\n"
    "Index a help-centre folder with `supportbot ingest PATH`, then try `supportbot search`."
)
INGEST_HELP = (
    "Index a help-centre folder (Markdown with front matter, HTML, text, PDF). Builds a new index "
    "version beside the live one and switches to it atomically; unchanged articles are not re-embedded."
)
KB_HELP = "Inspect or roll back a knowledge base."
STATUS_HELP = "Show the live index version, its size and the last reload."
ROLLBACK_HELP = "Switch back to the previous index version (run again to undo)."
SEARCH_HELP = "Search the live index (hybrid BM25 + dense) and print the best articles."
EVAL_HELP = (
    "Measure retrieval on a BEIR-format set (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): "
    "Hit@k, Recall@k, MRR@10, nDCG@10, latency and ingest speed, in a throw-away index."
)
SERVE_HELP = (
    "Run the chat server: Slack events, button clicks and /kb at POST /slack/events (or Socket Mode), "
    "health at GET /healthz. Needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; see the README."
)
DEMO_HELP = "Index the bundled sample help centre and ask it a few questions."
REPORT_HELP = (
    "What people asked and how it went, from the shared store (REDIS_URL): questions, answer rate, "
    "helpful rate, requests for a person, and the most asked questions the help centre could not answer."
)
REPORT_NEEDS_REDIS = (
    "the report reads the logs that bot workers keep in Redis, and REDIS_URL is unset; "
    "set REDIS_URL to the Redis your workers use"
)
REPORT_REDIS_DOWN = "could not read the logs: Redis at {where} is unavailable; check REDIS_URL"
REPORT_TITLE = "supportbot report: {since} to {until} (UTC), from {where}"
REPORT_EMPTY = "No questions recorded in this period."
REPORT_UNANSWERED = "Most asked questions the help centre could not answer"
REPORT_NOT_HELPFUL = "Questions whose answers were rated not helpful"

KB_OPT = "Knowledge base name (default: SUPPORTBOT_KB or 'default')."
JSON_OPT = "Print one JSON object instead of a table."
VOICE_OPT = "Answer in this voice profile (e.g. cadence); default: SUPPORTBOT_VOICE, else none."

PATH_MISSING = "error: {path} does not exist"
NOTHING_INDEXED = (
    "No index yet for knowledge base '{kb}'. Run `supportbot ingest PATH` first "
    "(or `make demo` for the sample help centre)."
)
SKIPPED = "warning: skipped {path}: {reason}"
RELOAD_DONE = (
    "Indexed {documents} documents into '{kb}' version {version} in {seconds:.1f}s: "
    "{added} added, {updated} updated, {removed} removed, {unchanged} unchanged, "
    "{skipped} skipped; {chunks} chunks ({chunks_embedded} embedded)."
)
ROLLED_BACK = "Knowledge base '{kb}' now serves version {current} (was {previous})."
NO_RESULTS = "No matching articles."
ERROR = "error: {message}"
STAGES = {
    "read": "Reading files", "embed": "Embedding chunks", "write": "Writing index", "query": "Queries",
    "answer": "Answers",
}
DEMO_QUESTIONS = (
    "How do I get a refund for my annual plan?",
    "How can I turn on SAML single sign-on?",
    "The Slack app stopped responding, what should I do?",
    "Can I use Cadence on my phone without internet?",
)
ASK_HELP = "Answer a question from the help centre with citations, or say honestly that it isn't covered."
CHAT_HELP = (
    "Chat in the terminal, through the same turn as the Slack and Teams workers: follow-ups keep their "
    "context, ratings and unanswered questions are logged for `supportbot report`. /help lists commands."
)
CHAT_BANNER = (
    "supportbot chat ({backend} backend, knowledge base '{kb}'; conversation state: {state}). "
    "/help lists commands, /quit leaves."
)
CHAT_COMMANDS = (
    "/helpful, /unhelpful  rate the last answer\n"
    "/human               ask for a person from the support team\n"
    "/reset               start a new conversation\n"
    "/quit                leave"
)
CHAT_NOTHING_TO_RATE = "(nothing to rate yet: ask a question first)"
CHAT_PROMPT = "you> "
CHAT_RESET = "(conversation forgotten)"
SOURCES = "Sources:"
ANSWER_META = "confidence: {confidence} · {reason} · {ms:.0f} ms"
ANSWERS_OPT = (
    "Also run the full answer engine on every query: abstain_recall, answer_rate, cited_gold_rate, "
    "lead_gold_rate, answer latency."
)
EXPLAIN_OPT = (
    "With --answers: list every wrongly declined or wrongly answered question, and every answer that "
    "led with a non-gold article, with its top hits and coverage features (implies --answers)."
)
MISTAKES_HEADER = "{n} mistakes (* marks a gold article among the top hits):"
NO_HISTORY_OPT = "Ignore the queries' conversation history (to measure what history adds)."
SERVED_ELSEWHERE = (
    "a supportbot server ({holder}) is using the embedded index in {data_dir}, and Chroma allows one "
    "writer per directory: reload from chat instead (/kb reload in Slack, reload in Teams), stop the "
    "server first, or share a Chroma server (CHROMA_HOST) between the server and this command"
)
CONFIG_HELP = "Check the settings before running `supportbot serve`."
CONFIG_CHECK_HELP = (
    "Print the effective settings (secrets masked) and one line per problem: no platform configured, a "
    "bad URL, an unreadable policy file, Redis or Chroma out of reach. Exits 1 when there are problems."
)
CONFIG_OK = "No problems found."
TEAMS_HELP = "Microsoft Teams: build the app package that an admin uploads."
TEAMS_PACKAGE_HELP = (
    "Write the Teams app package (a .zip with manifest.json and the two icons) for the bot whose "
    "Microsoft App ID is in TEAMS_APP_ID; upload it in Teams under Apps, Manage your apps, Upload an app."
)
TEAMS_APP_ID_MISSING = (
    "TEAMS_APP_ID is unset: set it to the bot's Microsoft App ID (a GUID), then run this again"
)
TEAMS_PACKAGE_WROTE = "Wrote {path}: upload it in Teams (Apps → Manage your apps → Upload an app)"

VOICE_HELP = "The brand voice: check profiles and score replies against them."
VOICE_LINT_HELP = (
    "Score a reply against a voice profile, rule by rule (banned phrases, preferred terms, greeting, "
    "sign-off, emoji, length, exclamations, reading level, formatting). Exit 0 when every rule passes."
)
VOICE_PROFILES_HELP = "List the voice profiles and whether each loads (exit 1 if one is broken)."
VOICE_PROFILE_OPT = "The voice profile (a NAME.yml in SUPPORTBOT_VOICE_DIR); default: SUPPORTBOT_VOICE."
VOICE_PLATFORM_OPT = "Where the reply is shown: slack, teams or console (formatting rules differ)."
VOICE_WHICH = "name a voice profile with --profile (there: {names}), or set SUPPORTBOT_VOICE"
VOICE_BAD_PLATFORM = "unknown platform {platform!r}; use one of: {platforms}"
VOICE_LINT_TITLE = "voice {profile} on {platform}: {score:.0%} of rules pass"
VOICE_FOLDER = "voice profiles in {folder}:"
VOICE_TRAIN_HELP = (
    "Train a LoRA voice adapter on the local SmolLM2 from example pairs (plain answer -> on-brand answer), "
    "after a hygiene check that refuses a dirty set; saves a new version (seeded, CPU: minutes)."
)
VOICE_HELDOUT_OPT = ("Held-out pairs (default for eval: the profile's shipped set); train checks that they "
                     "do not overlap the training pairs.")
VOICE_STEPS_OPT = "Stop after this many optimiser steps (a quick try)."
VOICE_ACTIVATE_OPT = "Make the new version the active one."
VOICE_DIRTY = "the example set has {n} problems"
VOICE_REFUSED = "not training on {file}: fix the {n} problems listed above (or drop those examples)"
VOICE_TRAINING = "training a voice adapter for {profile} on {n} examples: {version}"
VOICE_TRAINED = ("{version}: {steps} steps, loss {first} -> {last}, {seconds:.0f} s; saved in {path}. "
                 "Score it with `supportbot voice eval`, use it with `supportbot voice activate {version}`.")
VOICE_ACTIVATED = "voice {profile}: active adapter is now {version}"
VOICE_LIST_HELP = "List a profile's voice adapter versions: which is active, their data, loss and evaluation."
VOICE_LIST_TITLE = "voice adapters for {profile}"
VOICE_NO_ADAPTERS = ("no voice adapters for {profile} yet: train one with "
                     "`supportbot voice train EXAMPLES.jsonl`")
VOICE_ACTIVATE_HELP = ("Make a voice adapter version the active one (answers are reworded by it, then "
                       "fact-checked).")
VOICE_ROLLBACK_HELP = "Go back to the adapter version that was active before (or to rules only)."
VOICE_EVAL_HELP = (
    "Run the held-out pairs through rules (the rewriter alone), base (SmolLM2 prompted with the profile) and "
    "adapter (the active LoRA), and print style_score, fact_preservation and guard_pass for each, and for "
    "the models how often the decoding copied a sentence that held a missing fact."
)
VOICE_SYSTEMS_OPT = "Which systems to run, comma-separated: rules, base, adapter."
VOICE_NO_HELDOUT = "no held-out pairs at {path}; pass --heldout FILE"
VOICE_BAD_SYSTEM = "unknown system {system!r}; use rules, base or adapter"
VOICE_NO_ACTIVE = ("no voice adapter is active for {profile}: `supportbot voice activate VERSION` first, "
                   "or leave adapter out of --systems")
VOICE_EVALUATING = "{system}: {n} held-out pairs..."
VOICE_EVAL_TITLE = "voice {profile}: {n} held-out pairs"
VOICE_LIMIT_OPT = "Only the first N held-out pairs (a quick look)."
VOICE_OUTPUTS_OPT = ("Also write each system's replies to DIR/<system>.jsonl, with the rules each broke and "
                     "the facts it lost or added, for reading.")
VOICE_STEP = "step {done}/{total}, loss {loss:.3f}"

# supportbot bench
BENCH_HELP = ("Benchmark supportbot against the plain LangChain tutorial RAG on the same data and model: "
              "quality, abstention, latency, scale and memory. Writes latest.json, latest.md and plots.")
BENCH_QUICK_OPT = "Sizes 1k and 10k chunks only (a few minutes); the full run adds 100k chunks."
BENCH_OUT_OPT = "Where to write latest.json, latest.md and the PNG plots."
BENCH_JSON_OPT = "Print the results as JSON instead of the table."
BENCH_SIZES_OPT = "Comma-separated index sizes in chunks, instead of the defaults."
BENCH_EVAL_DIR_OPT = ("A folder of BEIR sets to score (default ../shared/data/eval); "
                      "bench/data/cadence-conversations is always added.")
BENCH_MAX_QUERIES_OPT = ("Dry runs only: the first N queries of each set (its gold articles and all others "
                         "stay).")
BENCH_NOT_A_CHECKOUT = "supportbot bench needs a source checkout (bench/compare.py next to adapters/): {root}"
BENCH_WROTE = "wrote {path}"
BENCH_TITLE = "supportbot vs the LangChain tutorial RAG ({mode} run)"

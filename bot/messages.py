"""Every user-facing string the core produces, reviewed in one place (house style, conventions 7)."""

NOT_COVERED = (
    "I couldn't find this in the help centre, so I'd rather not guess. "
    "Would you like me to bring in someone from the support team?"
)
EMPTY_QUESTION = "Ask me a question about the product and I'll look it up in the help centre."
NO_INDEX = "The help centre hasn't been indexed yet, so I can't answer. An admin can run a reload."
ERROR = "Sorry, something went wrong on my side while looking that up. Please try again in a moment."

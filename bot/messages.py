"""Every user-facing string the core produces, reviewed in one place (house style, conventions 7)."""

NOT_COVERED = (
    "I couldn't find this in the help centre, so I'd rather not guess. "
    "Would you like me to bring in someone from the support team?"
)
EMPTY_QUESTION = "Ask me a question about the product and I'll look it up in the help centre."
NO_INDEX = "The help centre hasn't been indexed yet, so I can't answer. An admin can run a reload."
ERROR = "Sorry, something went wrong on my side while looking that up. Please try again in a moment."
SLOW_DOWN = (
    "You're asking faster than I can look things up. Give me a few seconds, then ask again."
)
THANKS_HELPFUL = "Thanks, glad that helped."
THANKS_NOT_HELPFUL = "Thanks for saying so. I've noted it so the help centre can be improved."
HUMAN_REQUESTED = "I've logged that you'd like a person from the support team to help with this."
RATING_UNKNOWN = "I can't find that answer any more, so I couldn't record your rating."
RATING_REPEATED = "You've already rated this answer. Thanks!"
RATING_CHANGED = "Thanks, I've updated your rating."
HUMAN_ALREADY_REQUESTED = "Someone from the support team has already been asked to help with this."
BUSY = "I'm busy right now, please ask again in a minute."
GAVE_UP = "Sorry, I couldn't answer this one: something kept going wrong on my side. Please ask again."
RATING_UNAVAILABLE = "I couldn't record your rating just now. Please try again in a minute."

"""IMG Advisor's core: platform-neutral handlers for questions, quizzes and reminders.

Adapters (console, Telegram, Discord) build `Incoming` events, call
`Advisor.handle`, and render the `Reply` values. The core never imports an adapter
or a platform library.
"""

__version__ = "0.1.0"

from bot.events import Button, ChatRef, Incoming, Outcome, Reply  # noqa: E402

__all__ = ["Button", "ChatRef", "Incoming", "Outcome", "Reply", "__version__"]

"""Install events as Textual messages: one message class per event of `events.py`.

The event bus calls `post_event` from the engine's side; each event arrives on the Install
screen as its own message, with its own handler (`on_install_component_started`, ...). Bursts
coalesce as Toolong's do: consecutive log lines of one component merge into one message, and
a component's newer progress replaces the older, so a chatty installer cannot flood the UI.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from .. import events

E = TypeVar("E", bound=events.Event)


class InstallMessage(Message, Generic[E], namespace="install"):
    def __init__(self, event: E) -> None:
        super().__init__()
        self.event = event

    @property
    def component(self) -> str:
        return self.event.component


class ComponentStarted(InstallMessage[events.ComponentStarted], namespace="install"):
    pass


class StepStarted(InstallMessage[events.StepStarted], namespace="install"):
    pass


class StepDone(InstallMessage[events.StepDone], namespace="install"):
    pass


class LogLines(InstallMessage[events.LogLines], namespace="install"):
    def __init__(self, event: events.LogLines) -> None:
        super().__init__(event)
        self.lines: tuple[str, ...] = event.lines

    def can_replace(self, message: Message) -> bool:
        """The next message carries this one's lines too, when it is more lines of the same component."""
        if isinstance(message, LogLines) and message.component == self.component:
            message.lines = self.lines + message.lines
            return True
        return False


class Progress(InstallMessage[events.Progress], namespace="install"):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Progress) and message.component == self.component


class ComponentDone(InstallMessage[events.ComponentDone], namespace="install"):
    pass


class ComponentFailed(InstallMessage[events.ComponentFailed], namespace="install"):
    pass


class ComponentBlocked(InstallMessage[events.ComponentBlocked], namespace="install"):
    pass


class ComponentRetried(InstallMessage[events.ComponentRetried], namespace="install"):
    pass


class ComponentUnblocked(InstallMessage[events.ComponentUnblocked], namespace="install"):
    pass


class ComponentSkipped(InstallMessage[events.ComponentSkipped], namespace="install"):
    pass


class RunFinished(InstallMessage[events.RunFinished], namespace="install"):
    pass


# The boundary: which message carries which event.
MESSAGES: dict[type[events.Event], type[InstallMessage[events.Event]]] = {
    events.ComponentStarted: ComponentStarted,
    events.StepStarted: StepStarted,
    events.StepDone: StepDone,
    events.LogLines: LogLines,
    events.Progress: Progress,
    events.ComponentDone: ComponentDone,
    events.ComponentFailed: ComponentFailed,
    events.ComponentBlocked: ComponentBlocked,
    events.ComponentRetried: ComponentRetried,
    events.ComponentUnblocked: ComponentUnblocked,
    events.ComponentSkipped: ComponentSkipped,
    events.RunFinished: RunFinished,
}  # type: ignore[dict-item]


def poster(target: MessagePump) -> events.Subscriber:
    """An event-bus subscriber that posts each event to `target` as its message."""

    def post_event(event: events.Event) -> None:
        target.post_message(MESSAGES[type(event)](event))

    return post_event

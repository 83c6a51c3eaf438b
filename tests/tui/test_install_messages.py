"""Each install event reaches the Install screen as its own message; bursts coalesce."""

from textual.app import App

from thinkube_tui import events
from thinkube_tui.screens import install_messages as msg


def test_every_event_has_its_message():
    kinds = {c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.Event)} - {events.Event}
    assert kinds == set(msg.MESSAGES)
    for kind, message in msg.MESSAGES.items():
        assert message.handler_name == "on_install_" + message.handler_name.removeprefix("on_install_")
        assert message.__name__ == kind.__name__


def test_log_lines_of_one_component_merge_and_progress_replaces():
    first = msg.LogLines(events.LogLines("a", ("1", "2")))
    second = msg.LogLines(events.LogLines("a", ("3",)))
    other = msg.LogLines(events.LogLines("b", ("x",)))
    assert first.can_replace(second) and second.lines == ("1", "2", "3")  # nothing lost
    assert not second.can_replace(other) and other.lines == ("x",)
    older, newer = msg.Progress(events.Progress("a", 1, 3)), msg.Progress(events.Progress("a", 2, 3))
    assert older.can_replace(newer) and not older.can_replace(msg.Progress(events.Progress("b", 1)))


async def test_a_burst_of_log_lines_arrives_as_fewer_messages_with_every_line():
    received: list[tuple[str, ...]] = []

    class Sink(App[None]):
        def on_install_log_lines(self, message: msg.LogLines) -> None:
            received.append(message.lines)

    app = Sink()
    async with app.run_test() as pilot:
        post = msg.poster(app)
        for i in range(200):  # posted faster than the app takes them
            post(events.LogLines("a", (str(i),)))
        await pilot.pause()
        await pilot.pause()
    assert [line for lines in received for line in lines] == [str(i) for i in range(200)]
    assert len(received) < 200

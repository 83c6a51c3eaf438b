"""Modal dialogs: host key, secret, confirmation, node editor, saving the answers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..textsafe import data, styled
from ..wizard import NodeDraft, WizardModel


class Dialog(ModalScreen["object"]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    CANCEL_RESULT: object = None
    _answered = False

    def action_cancel(self) -> None:
        self.dismiss(self.CANCEL_RESULT)

    def dismiss(self, result: object = None) -> AwaitComplete:
        """Answer once: a double click or a second key while the dialog closes is ignored (a second
        dismiss would run the caller's callback again and pop the screen below)."""
        if self._answered:
            return AwaitComplete.nothing()
        self._answered = True
        return super().dismiss(result)


class HostKeyDialog(Dialog):
    """An unknown host key: show its fingerprint; accept (remembered) or reject."""

    CANCEL_RESULT = False

    def __init__(self, node: str, host: str, port: int, key_type: str, fingerprint: str) -> None:
        super().__init__()
        self.node, self.host, self.port, self.key_type, self.fingerprint = node, host, port, key_type, fingerprint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # The host, key type and fingerprint come from the operator and the server: text, not markup.
            yield Static(styled("[b]Unknown host key[/b] for {n}", n=self.node or self.host), classes="dialog-title")
            yield Static(
                styled("{h}:{p} offers a {t} key with the fingerprint", h=self.host, p=self.port, t=self.key_type)
            )
            yield Static(Text(self.fingerprint, style="bold"), id="fingerprint")
            yield Static(
                "Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the machine's "
                "console. Accepting remembers it in thinkube-tui's known-hosts file.",
                classes="hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Accept", id="accept", variant="success")
                yield Button("Reject", id="reject", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "accept")


class SecretDialog(Dialog):
    """A password or passphrase, masked; kept in memory only."""

    def __init__(self, prompt: str, detail: str = "") -> None:
        super().__init__()
        self.prompt, self.detail = prompt, detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.prompt, style="bold"), classes="dialog-title")  # it names a path, a host
            if self.detail:
                yield Static(data(self.detail), classes="hint")
            yield Input(password=True, id="secret", placeholder="typed characters are hidden", compact=True)
            yield Static(
                "Kept in memory for this session only; written to disk only if you save a secrets file.", classes="hint"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.query_one(Input).value or None if event.button.id == "ok" else None)


class ConfirmDialog(Dialog):
    """A question with two answers; dismissed with True for `yes`, False for `no` or escape.

        ConfirmDialog("Cancel the install?", "Cancel install", "Keep installing", title="Cancel")

    question: a `str` is Rich markup written by us; pass a `Text` when it quotes data (a node's
    name, a path, anything typed or read from a node).
    destructive: `yes` does something that cannot be taken back (quit or cancel an install, start
    one, remove a node), so the safe answer `no` has the focus: Enter keeps things as they are.
    The arrow keys move between the two buttons.
    """

    CANCEL_RESULT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,right", "switch_button", "Other answer", show=False),
    ]

    def __init__(
        self,
        question: str | Text,
        yes: str = "Yes",
        no: str = "No",
        *,
        title: str = "",
        destructive: bool = True,
    ) -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no
        self.title_text, self.destructive = title, destructive

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm-dialog"):
            if self.title_text:
                yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(self.question, id="question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="warning" if self.destructive else "primary")
                yield Button(self.no, id="no", variant="primary" if self.destructive else "default")

    def on_mount(self) -> None:
        self.query_one("#no" if self.destructive else "#yes", Button).focus()

    def action_switch_button(self) -> None:
        focused = self.focused
        self.query_one("#yes" if focused is not None and focused.id == "no" else "#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")


AUTH_METHODS = [("SSH agent", "agent"), ("Key file", "key"), ("Password", "password")]


class NodeDialog(Dialog):
    """Add or edit a node; the result is a `NodeDraft` the model has accepted, or None."""

    def __init__(self, model: WizardModel, draft: NodeDraft | None = None) -> None:
        super().__init__()
        self.model = model  # checks the draft against the other nodes before the dialog closes
        self.original = draft

    def compose(self) -> ComposeResult:
        d = self.original
        with Vertical(classes="dialog node-dialog"):
            yield Static("[b]Edit node[/b]" if d else "[b]Add a node[/b]", classes="dialog-title")
            with Grid(classes="form-grid"):
                yield Label("Name")
                yield Input(d.name if d else "", id="name", placeholder="tk-control (a DNS label)", compact=True)
                yield Label("Host")
                yield Input(d.host if d else "", id="host", placeholder="192.168.1.10 or a DNS name", compact=True)
                yield Label("Port")
                yield Input(str(d.port) if d else "22", id="port", type="integer", compact=True)
                yield Label("User")
                yield Input(d.user if d else "", id="user", placeholder="a user with sudo", compact=True)
                yield Label("Login")
                yield Select(
                    AUTH_METHODS, value=d.auth_method if d else "agent", allow_blank=False, id="auth", compact=True
                )
                yield Label("Key file")
                yield Input(d.key_file or "" if d else "", id="key_file", placeholder="~/.ssh/id_ed25519", compact=True)
            yield Static("", id="node-errors", classes="errors")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._sync_key_file()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._sync_key_file()

    def _sync_key_file(self) -> None:
        self.query_one("#key_file", Input).disabled = self.query_one("#auth", Select).value != "key"

    def draft(self) -> NodeDraft:
        def text(field: str) -> str:
            return self.query_one(f"#{field}", Input).value.strip()

        port = text("port")
        base = self.original
        return NodeDraft(
            name=text("name"),
            host=text("host"),
            user=text("user"),
            port=int(port) if port.isdigit() else 0,
            auth_method=self.query_one("#auth", Select).value,  # type: ignore[arg-type]
            key_file=text("key_file") or None,
            host_key=base.host_key if base else None,
            password_ref=base.password_ref if base else None,
            passphrase_ref=base.passphrase_ref if base else None,
            sudo_ref=base.sudo_ref if base else None,
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        draft = self.draft()
        if not self._check(draft):
            self.dismiss(draft)

    def on_input_changed(self, event: Input.Changed) -> None:
        # Once problems are shown, each edit re-checks: a fixed field loses its mark and message.
        # (Not by the marks: an Input drops its own -invalid class whenever its value changes.)
        if str(self.query_one("#node-errors", Static).render()):
            self._check(self.draft())

    def _check(self, draft: NodeDraft) -> bool:
        """Mark the fields with problems (keeping what was typed) and say why; True if any."""
        problems = self.model.node_problems(draft, replacing=self.original.name if self.original else None)
        for widget in self.query(Input):
            widget.set_class(
                any(p.path[:1] == (widget.id.replace("key_file", "auth"),) for p in problems) if widget.id else False,
                "-invalid",
            )
        self.query_one("#node-errors", Static).update(
            Text("\n".join(f"{'.'.join(map(str, p.path)) or 'node'}: {p.message}" for p in problems))
        )
        return bool(problems)


class SaveAnswersDialog(Dialog):
    """Where to save the answers, and whether secrets go to a 0600 file or stay env references."""

    def __init__(self, default: Path, has_secrets: bool) -> None:
        super().__init__()
        self.default, self.has_secrets = default, has_secrets

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Save the answers[/b]", classes="dialog-title")
            yield Label("Answers file")
            yield Input(str(self.default), id="path", compact=True)
            yield Checkbox(
                "Leave secrets as environment-variable references (no secrets file)",
                value=not self.has_secrets,
                id="as-env",
                disabled=not self.has_secrets,
            )
            yield Static(
                "Secrets you typed go to <answers>.secrets.yaml, mode 0600; the answers file holds only references.",
                classes="hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.dismiss(
                (Path(self.query_one("#path", Input).value).expanduser(), self.query_one("#as-env", Checkbox).value)
            )
        else:
            self.dismiss(None)


class HelpDialog(Dialog):
    """What a screen is for and its keys (F1 or ? on any wizard step)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f1,question_mark,q", "cancel", "Close", show=False)]

    def __init__(self, screen_name: str, purpose: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.screen_name, self.purpose, self.keys = screen_name, purpose, keys

    def compose(self) -> ComposeResult:
        keys = Text()
        for key, description in self.keys:
            keys.append(f"{key:>12}  ", style="bold")
            keys.append(f"{description}\n")
        with Vertical(classes="dialog help-dialog"):
            yield Static(Text(f"Help: {self.screen_name}", style="bold"), classes="dialog-title")
            yield Static(Text(self.purpose), id="help-purpose")
            yield Static(Text("Keys", style="bold underline"), classes="section-title")
            yield Static(keys, id="help-keys")
            yield Static(
                "The mouse works too: click buttons, table rows, and the steps already visited in the step bar.",
                classes="hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

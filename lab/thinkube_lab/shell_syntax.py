"""The lab shell's syntax: tokens, the syntax tree, and the parser, for two dialects.

`bash` is what an SSH command line runs under on Ubuntu (a new user's login shell); `dash` is
`/bin/sh` (`sudo sh -c ...`). They parse the same here except where Ubuntu's two shells differ:
`&>` (bash: stdout and stderr to a file; dash: `cmd &` then `>file`) and `[[` (a bash keyword; a
command dash does not have).

Parsed: command lists (`;`, newlines, `&&`, `||`), pipelines (`|`, `!`), simple commands with
`VAR=value` prefixes, `if`/`elif`/`else`, `for NAME [in WORDS]`, `while`/`until`, `{ ...; }`,
`( ... )`, redirections (`>`, `>>`, `<`, `N>&M`, `&>` under bash) and here-documents (`<<WORD`,
`<<'WORD'`, `<<-WORD`), quoting and `$VAR`/`${VAR}`/`${VAR:-word}`/`$(...)`.

Refused loudly (`Unsupported`: exit 2, `lab shell: unsupported syntax: ...`): `case`, functions,
background jobs (`&`), backquotes, arithmetic, `[[ ]]` under bash, here-strings, `<>`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Dialect = Literal["bash", "dash"]

# ============================================================================ errors


class ShellError(Exception):
    """A parse error: dash's `Syntax error` or the lab's `unsupported syntax`. Exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unsupported(ShellError):
    pass


class ExitShell(Exception):
    """`exit`, `set -e`, or a special builtin's error under dash: the shell ends with `status`."""

    def __init__(self, status: int) -> None:
        self.status = status


class LoopControl(Exception):
    """`break N` / `continue N` on its way to the loop it ends or continues."""

    def __init__(self, kind: str, levels: int) -> None:
        self.kind, self.levels = kind, levels


def unsupported(what: str) -> Unsupported:
    return Unsupported(f"lab shell: unsupported syntax: {what} (not simulated by the lab)")


# ============================================================================ syntax tree


@dataclass
class Lit:
    text: str
    quoted: bool


@dataclass
class Var:
    name: str
    quoted: bool
    default: Word | None = None  # ${VAR:-word} / ${VAR-word}
    colon: bool = True


@dataclass
class Sub:
    script: Script
    quoted: bool


@dataclass
class Word:
    parts: list[Lit | Var | Sub] = field(default_factory=list)

    @property
    def plain(self) -> str | None:
        """The text when the word is one unquoted literal (keywords, operators), else None."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Lit) and not self.parts[0].quoted:
            return self.parts[0].text
        return None


@dataclass
class Redir:
    fd: int
    op: str  # '>', '>>', '<', '>&', '<&', '&>', '&>>', '<<' (target: the here-document's text)
    target: Word


@dataclass
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redir]
    line: int


@dataclass
class Group:
    """`{ LIST; }`, or `( LIST )` with `subshell`."""

    body: Script
    subshell: bool
    line: int
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class If:
    clauses: list[tuple[Script, Script]]  # (condition, body) for `if` and each `elif`
    otherwise: Script | None
    line: int
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class For:
    name: str
    words: list[Word] | None  # None: `for NAME; do` iterates "$@"
    body: Script
    line: int
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class Loop:
    """`while COND; do BODY; done`, or `until` with `until`."""

    cond: Script
    body: Script
    until: bool
    line: int
    redirs: list[Redir] = field(default_factory=list)


Command = Simple | Group | If | For | Loop


@dataclass
class Pipeline:
    commands: list[Command]
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]]


@dataclass
class Script:
    items: list[AndOr]


# ============================================================================ tokenizer

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
# Reserved words that end a list inside a compound command (only at a command's start).
_ENDS = {"then", "else", "elif", "fi", "do", "done", "esac", "}"}


@dataclass
class HereDoc:
    delimiter: str
    quoted: bool  # <<'EOF': no expansion in the body
    strip_tabs: bool  # <<-EOF
    body: Word | None = None


@dataclass
class Tok:
    kind: str  # 'word', 'op', 'redir', 'nl', 'eof'
    value: Any
    line: int
    fd: int | None = None
    heredoc: HereDoc | None = None


class _Lexer:
    def __init__(self, text: str, dialect: Dialect = "dash") -> None:
        self.s, self.i, self.line, self.dialect = text, 0, 1, dialect
        self.pending: list[HereDoc] = []

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def tokens(self) -> list[Tok]:
        out: list[Tok] = []
        while True:
            tok = self._next()
            out.append(tok)
            if tok.kind == "redir" and tok.value in ("<<", "<<-"):
                delim = self._next()
                if delim.kind != "word":
                    raise ShellError(f"Syntax error: {_describe(delim)} unexpected")
                tok.heredoc = _heredoc(delim.value, strip_tabs=tok.value == "<<-")
                self.pending.append(tok.heredoc)
                tok.value = "<<"
                out.append(delim)
            if tok.kind == "eof":
                if self.pending:
                    raise unsupported(f"a here-document without its closing '{self.pending[0].delimiter}' line")
                return out

    def _next(self) -> Tok:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "\\" and self.peek(1) == "\n":
                self.i += 2
                self.line += 1
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            else:
                break
        if self.i >= len(s):
            return Tok("eof", None, self.line)
        c = s[self.i]
        line = self.line
        if c == "\n":
            self.i += 1
            self.line += 1
            if self.pending:
                self._read_heredocs()
            return Tok("nl", "\n", line)
        if c in ";&|()<>":
            return self._operator(None, line)
        return self._word(line)

    def _read_heredocs(self) -> None:
        """The bodies of the here-documents opened on the line just ended, in order."""
        for doc in self.pending:
            lines: list[str] = []
            while True:
                if self.i >= len(self.s):
                    raise unsupported(f"a here-document without its closing '{doc.delimiter}' line")
                end = self.s.find("\n", self.i)
                raw = self.s[self.i :] if end < 0 else self.s[self.i : end]
                self.i = len(self.s) if end < 0 else end + 1
                self.line += 1
                text = raw.lstrip("\t") if doc.strip_tabs else raw
                if text == doc.delimiter:
                    break
                lines.append(text + "\n")
            body = "".join(lines)
            doc.body = Word([Lit(body, True)]) if doc.quoted else _Lexer(body, self.dialect)._heredoc_body()
        self.pending = []

    def _operator(self, fd: int | None, line: int) -> Tok:
        s, i = self.s, self.i
        two, one = s[i : i + 2], s[i]
        if one in "<>":
            if s[i : i + 3] == "<<<":
                raise unsupported("here-strings (<<<)")
            if s[i : i + 3] == "<<-":
                self.i += 3
                return Tok("redir", "<<-", line, fd)
            if two == "<<":
                self.i += 2
                return Tok("redir", "<<", line, fd)
            if two == "<>":
                raise unsupported("read-write redirection (<>)")
            for op in (">>", ">&", "<&", ">|", ">", "<"):
                if s.startswith(op, i):
                    self.i += len(op)
                    return Tok("redir", ">" if op == ">|" else op, line, fd)
        if fd is not None:
            raise ShellError(f'Syntax error: "{one}" unexpected')
        if two in ("&&", "||"):
            self.i += 2
            return Tok("op", two, line)
        if two == ";;":
            raise unsupported("case clauses (;;)")
        if two == "&>":
            if self.dialect == "dash":
                raise unsupported(
                    "'&>' under sh: dash reads 'cmd &>file' as 'cmd &' (in the background) then '>file', "
                    "and the lab runs no background jobs; write '>file 2>&1'"
                )
            op = "&>>" if s.startswith("&>>", i) else "&>"
            self.i += len(op)
            return Tok("redir", op, line, None)
        if one == "&":
            raise unsupported("background jobs (&)")
        if two in ("((", "))") and one == "(":
            raise unsupported("arithmetic commands ((...))")
        self.i += 1
        return Tok("op", one, line)

    def _word(self, line: int) -> Tok:
        s = self.s
        parts: list[Lit | Var | Sub] = []
        lit: list[str] = []

        def flush(quoted: bool = False) -> None:
            if lit:
                parts.append(Lit("".join(lit), quoted))
                lit.clear()

        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n;&|()<>":
                if c in "<>" and not parts and lit and "".join(lit).isdigit():
                    fd = int("".join(lit))
                    return self._operator(fd, line)
                break
            if c == "'":
                flush()
                j = s.find("'", self.i + 1)
                if j < 0:
                    raise ShellError("Syntax error: Unterminated quoted string")
                text = s[self.i + 1 : j]
                self.line += text.count("\n")
                parts.append(Lit(text, True))
                self.i = j + 1
            elif c == '"':
                flush()
                self.i += 1
                self._double(parts)
            elif c == "\\":
                flush()
                nxt = self.peek(1)
                if nxt == "\n":
                    self.i += 2
                    self.line += 1
                    continue
                if not nxt:
                    self.i += 1
                    break
                parts.append(Lit(nxt, True))
                self.i += 2
            elif c == "$":
                flush()
                parts.append(self._dollar(False))
            elif c == "`":
                raise unsupported("backquote command substitution (use $(...))")
            else:
                lit.append(c)
                self.i += 1
        flush()
        return Tok("word", Word(parts), line)

    def _double(self, parts: list[Lit | Var | Sub]) -> None:
        s = self.s
        lit: list[str] = []
        any_part = False
        while True:
            if self.i >= len(s):
                raise ShellError("Syntax error: Unterminated quoted string")
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.peek(1) in ("$", "`", '"', "\\", "\n"):
                if self.peek(1) != "\n":
                    lit.append(self.peek(1))
                self.i += 2
            elif c == "$":
                if lit:
                    parts.append(Lit("".join(lit), True))
                    lit.clear()
                parts.append(self._dollar(True))
                any_part = True
            elif c == "`":
                raise unsupported("backquote command substitution (use $(...))")
            else:
                if c == "\n":
                    self.line += 1
                lit.append(c)
                self.i += 1
        if lit or not any_part:
            parts.append(Lit("".join(lit), True))

    def _heredoc_body(self) -> Word:
        """An unquoted here-document's body: expansions and `\\$ \\` \\\\ \\newline`, no quote removal."""
        s = self.s
        parts: list[Lit | Var | Sub] = []
        lit: list[str] = []
        while self.i < len(s):
            c = s[self.i]
            if c == "\\" and self.peek(1) in ("$", "`", "\\", "\n"):
                if self.peek(1) != "\n":
                    lit.append(self.peek(1))
                self.i += 2
            elif c == "$":
                if lit:
                    parts.append(Lit("".join(lit), True))
                    lit.clear()
                parts.append(self._dollar(True))
            elif c == "`":
                raise unsupported("backquote command substitution (use $(...))")
            else:
                lit.append(c)
                self.i += 1
        parts.append(Lit("".join(lit), True))
        return Word(parts)

    def _dollar(self, quoted: bool) -> Lit | Var | Sub:
        s = self.s
        self.i += 1  # the '$'
        c = self.peek()
        if c == "(":
            if self.peek(1) == "(":
                raise unsupported("arithmetic expansion $((...))")
            start = self.i + 1
            end = _matching_paren(s, start)
            inner = s[start:end]
            self.line += inner.count("\n")
            self.i = end + 1
            return Sub(parse(inner, self.dialect), quoted)
        if c == "{":
            end = s.find("}", self.i)
            if end < 0:
                raise ShellError("Syntax error: Missing '}'")
            body = s[self.i + 1 : end]
            self.i = end + 1
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*])(?:(:?)-(.*))?", body, re.S)
            if not m:
                raise unsupported(f"parameter expansion ${{{body}}} (only ${{VAR}} and ${{VAR:-word}})")
            default = None
            if m.group(3) is not None:
                default = (
                    _Lexer(m.group(3), self.dialect)._word(self.line).value if m.group(3) else Word([Lit("", True)])
                )
            return Var(m.group(1), quoted, default, m.group(2) == ":")
        if c and c in "?$#@*!-0123456789":
            if c in "!-":
                raise unsupported(f"special parameter ${c}")
            self.i += 1
            return Var(c, quoted)
        m = _NAME.match(s, self.i)
        if m:
            self.i = m.end()
            return Var(m.group(0), quoted)
        return Lit("$", quoted)


def _heredoc(word: Word, *, strip_tabs: bool) -> HereDoc:
    if any(not isinstance(p, Lit) for p in word.parts):
        raise unsupported("a here-document delimiter with an expansion in it")
    text = "".join(p.text for p in word.parts if isinstance(p, Lit))
    quoted = any(p.quoted for p in word.parts if isinstance(p, Lit))
    return HereDoc(text, quoted, strip_tabs)


def _matching_paren(s: str, i: int) -> int:
    depth, n = 1, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            if j < 0:
                break
            i = j + 1
            continue
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
            i += 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShellError('Syntax error: end of file unexpected (expecting ")")')


# ============================================================================ parser


class _Parser:
    def __init__(self, toks: list[Tok], dialect: Dialect) -> None:
        self.toks, self.i, self.dialect = toks, 0, dialect

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def _skip_nl(self) -> None:
        while self.tok.kind == "nl":
            self.i += 1

    def _reserved(self) -> str | None:
        t = self.tok
        return t.value.plain if t.kind == "word" else None

    def _expect(self, word: str) -> None:
        self._skip_nl()
        if self._reserved() != word:
            raise ShellError(f'Syntax error: {_describe(self.tok)} unexpected (expecting "{word}")')
        self.i += 1

    def script(self) -> Script:
        body = self.compound_list(top=True)
        if self.tok.kind != "eof":
            raise ShellError(f"Syntax error: {_describe(self.tok)} unexpected")
        return body

    def compound_list(self, top: bool = False) -> Script:
        items: list[AndOr] = []
        while True:
            self._skip_nl()
            t = self.tok
            if t.kind == "eof" or (t.kind == "op" and t.value == ")"):
                break
            if t.kind == "op" and t.value == ";":
                raise ShellError('Syntax error: ";" unexpected')
            if self._reserved() in _ENDS:
                if top:
                    raise ShellError(f"Syntax error: {_describe(t)} unexpected")
                break
            items.append(self.and_or())
            t = self.tok
            if (t.kind == "op" and t.value == ";") or t.kind == "nl":
                self.i += 1
            else:
                break
        if not items and not top:
            raise ShellError(f"Syntax error: {_describe(self.tok)} unexpected")
        return Script(items)

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest: list[tuple[str, Pipeline]] = []
        while self.tok.kind == "op" and self.tok.value in ("&&", "||"):
            op = self.tok.value
            self.i += 1
            self._skip_nl()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest)

    def pipeline(self) -> Pipeline:
        negate = False
        if self._reserved() == "!":
            negate = True
            self.i += 1
        cmds = [self.command()]
        while self.tok.kind == "op" and self.tok.value == "|":
            self.i += 1
            self._skip_nl()
            cmds.append(self.command())
        return Pipeline(cmds, negate)

    def command(self) -> Command:
        t = self.tok
        word = self._reserved()
        cmd: Command
        if t.kind == "op" and t.value == "(":
            self.i += 1
            body = self.compound_list()
            if not (self.tok.kind == "op" and self.tok.value == ")"):
                raise ShellError(f'Syntax error: {_describe(self.tok)} unexpected (expecting ")")')
            self.i += 1
            cmd = Group(body, True, t.line)
        elif word == "{":
            self.i += 1
            body = self.compound_list()
            self._expect("}")
            cmd = Group(body, False, t.line)
        elif word == "if":
            cmd = self._if()
        elif word == "for":
            cmd = self._for()
        elif word in ("while", "until"):
            self.i += 1
            cond = self.compound_list()
            self._expect("do")
            body = self.compound_list()
            self._expect("done")
            cmd = Loop(cond, body, word == "until", t.line)
        elif word == "case":
            raise unsupported("case ... esac")
        elif word in ("function", "select", "coproc") or (word == "time" and self.dialect == "bash"):
            raise unsupported(f"'{word}' (a bash keyword)")
        elif word == "[[" and self.dialect == "bash":
            raise unsupported("[[ ... ]] (bash's conditional command; use [ ... ])")
        else:
            return self.simple()
        while self.tok.kind == "redir":
            cmd.redirs.append(self._redir())
        return cmd

    def _if(self) -> If:
        line = self.tok.line
        self.i += 1
        clauses: list[tuple[Script, Script]] = []
        otherwise: Script | None = None
        while True:
            cond = self.compound_list()
            self._expect("then")
            clauses.append((cond, self.compound_list()))
            self._skip_nl()
            word = self._reserved()
            self.i += 1
            if word == "elif":
                continue
            if word == "else":
                otherwise = self.compound_list()
                self._expect("fi")
                break
            if word == "fi":
                break
            self.i -= 1
            raise ShellError(f'Syntax error: {_describe(self.tok)} unexpected (expecting "fi")')
        return If(clauses, otherwise, line)

    def _for(self) -> For:
        line = self.tok.line
        self.i += 1
        t = self.tok
        name = t.value.plain if t.kind == "word" else None
        if name is None or not _NAME.fullmatch(name):
            raise ShellError("Syntax error: Bad for loop variable")
        self.i += 1
        words: list[Word] | None = None
        self._skip_nl()
        if self._reserved() == "in":
            self.i += 1
            words = []
            while self.tok.kind == "word":
                words.append(self.tok.value)
                self.i += 1
            if not (self.tok.kind == "nl" or (self.tok.kind == "op" and self.tok.value == ";")):
                raise ShellError(f"Syntax error: {_describe(self.tok)} unexpected")
            self.i += 1
        elif self.tok.kind == "op" and self.tok.value == ";":
            self.i += 1
        self._expect("do")
        body = self.compound_list()
        self._expect("done")
        return For(name, words, body, line)

    def _redir(self) -> Redir:
        t = self.tok
        self.i += 1
        target = self.tok
        if target.kind != "word":
            raise ShellError(f"Syntax error: {_describe(target)} unexpected")
        self.i += 1
        if t.heredoc is not None:
            body = t.heredoc.body
            assert body is not None  # read at the end of its line (the lexer refuses a missing one)
            return Redir(t.fd if t.fd is not None else 0, "<<", body)
        default_fd = 0 if t.value in ("<", "<&") else 1
        return Redir(t.fd if t.fd is not None else default_fd, t.value, target.value)

    def simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirs: list[Redir] = []
        line = self.tok.line
        while True:
            t = self.tok
            if t.kind == "word":
                w: Word = t.value
                if not words:
                    first = w.parts[0] if w.parts else None
                    if isinstance(first, Lit) and not first.quoted and (m := _ASSIGN.match(first.text)):
                        rest = first.text[m.end() :]
                        value = Word(([Lit(rest, False)] if rest else []) + w.parts[1:])
                        assigns.append((m.group(1), value))
                        self.i += 1
                        continue
                words.append(w)
                self.i += 1
            elif t.kind == "redir":
                redirs.append(self._redir())
            elif t.kind == "op" and t.value == "(":
                if len(words) == 1 and not assigns and not redirs:
                    raise unsupported("function definitions")
                raise ShellError('Syntax error: "(" unexpected')
            else:
                break
        if not (assigns or words or redirs):
            raise ShellError(f"Syntax error: {_describe(self.tok)} unexpected")
        return Simple(assigns, words, redirs, line)


def _describe(t: Tok) -> str:
    if t.kind == "eof":
        return "end of file"
    if t.kind == "nl":
        return "newline"
    if t.kind == "word":
        return f'"{t.value.plain or "word"}"'
    return f'"{t.value}"'


@functools.lru_cache(maxsize=256)
def parse(text: str, dialect: Dialect = "dash") -> Script:
    """Parse a script; raises `ShellError` (or its subclass `Unsupported`).

    Cached: installers send the same lines to every node (discovery's probe, a hundred lines,
    to each of them), and running a script never changes its syntax tree."""
    return _Parser(_Lexer(text, dialect).tokens(), dialect).script()

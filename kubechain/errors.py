"""The errors kubechain raises about its input and output, in one place."""

from __future__ import annotations


class ParseError(ValueError):
    """Unusable input, located precisely enough to fix it by hand.

    Raised by :func:`kubechain.load` / :func:`kubechain.loads`; the CLI turns it into one short
    paragraph and exit status 2.
    """

    def __init__(self, message: str, *, path: str | None, line: int, column: int, text: str,
                 expected: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.text = text
        self.expected = expected
        self.reason = message
        super().__init__(self.describe())

    def at(self, path: str | None) -> ParseError:
        """The same error, located in the file `path`."""
        return ParseError(self.reason, path=path, line=self.line, column=self.column, text=self.text,
                          expected=self.expected)

    def describe(self) -> str:
        """`path:line:column: reason`, the offending text and what was expected, on three lines;
        control characters (binary input) are shown escaped, never sent to the terminal."""
        where = f"{self.path or '<input>'}:{self.line}:{self.column}"
        shown = self.text if len(self.text) <= 120 else self.text[:117] + "..."
        return f"{where}: {printable(self.reason)}\n    {printable(shown)}\n  expected {printable(self.expected)}"


def printable(text: str) -> str:
    """`text` with control characters (C0, DEL, C1) escaped as `\\xNN`: safe to print on a terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else
                   (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") for ch in text)


class BadValue(ValueError):
    """An option value iptables would never print (`--every 0`, `--probability nan`); the parsers
    turn it into a ParseError located at `token`."""

    def __init__(self, token: str, expected: str) -> None:
        super().__init__(f"{expected}, not {token!r}")
        self.token = token
        self.expected = expected


class RenderError(ValueError):
    """The model lacks what the asked format prints (e.g. a match kept verbatim in another format)."""


class SelectionError(ValueError):
    """`service=TEXT` (`--service`) selects no service port of an input; `closest` lists the
    names and chains most like TEXT, for the message."""

    def __init__(self, text: str, path: str | None, closest: list[str]) -> None:
        self.text, self.path, self.closest = text, path, closest
        hint = f"; closest: {', '.join(closest)}" if closest else ""
        super().__init__(f"no service port of {path or '<input>'} has a name or chain containing {text!r}{hint}")

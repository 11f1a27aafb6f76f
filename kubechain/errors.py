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
        where = f"{self.path or '<input>'}:{self.line}:{self.column}"
        shown = self.text if len(self.text) <= 120 else self.text[:117] + "..."
        return f"{where}: {self.reason}\n    {shown}\n  expected {self.expected}"


class BadValue(ValueError):
    """An option value iptables would never print (`--every 0`, `--probability nan`); the parsers
    turn it into a ParseError located at `token`."""

    def __init__(self, token: str, expected: str) -> None:
        super().__init__(f"{expected}, not {token!r}")
        self.token = token
        self.expected = expected


class RenderError(ValueError):
    """The model lacks what the asked format prints (e.g. a match kept verbatim in another format)."""

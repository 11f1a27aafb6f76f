"""What people paste: several command outputs in one text, and text that a person or a web page
edited. Both keep every line where it was, so errors and rules still point at the pasted text.

Sections. A paste may hold `-L CHAIN` blocks, `-S CHAIN` blocks, `iptables-save | grep` lines and
whole dumps, one after another, separated by blank lines or by shell prompts (`root@node:~#
iptables -t nat -L …`, `$ …`). A prompt starts a section and says what it holds: the tool
(ip6tables: IPv6), the format (-L, -S, -save) and the table (`-t nat`). Without prompts, a section
starts where the format changes (a `Chain …` header after save lines, or the other way round).

Repairs (`lenient`): Markdown code fences, grep's `--` separators, elision lines (`...`), a
common indentation (a listing pasted under a Markdown list), authors' notes after a rule (`← 1`,
`# the pod IP`), and blank lines inside a chain block. Each becomes an InputNote; a rule line that
still cannot be read is skipped by the parser (never guessed at), with a note naming its chain.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import ParseError
from ..model import InputNote

#: while a lenient parse runs: where the rule lines it skips are noted (None: strict, errors raise)
SKIPPED: ContextVar[list[InputNote] | None] = ContextVar("kubechain_skipped", default=None)


def skip_or_raise(err: ParseError, chain: str | None) -> None:
    """In a lenient parse, note the unreadable rule line and go on; otherwise raise."""
    skipped = SKIPPED.get()
    if skipped is None:
        raise err
    where = f"chain {chain} lost a rule: its shares are unreliable" if chain else "a rule was lost"
    skipped.append(InputNote(err.line, "skipped", f"a line that is no rule ({err.expected}); {where}", chain))

PROMPT = re.compile(
    r"^\s*(?:\S+@\S+?:[^#$\n]*[#$]|[#$])\s+(?:sudo\s+)?(?P<command>\S.*?)\s*$")
_TOOL = re.compile(r"(?:^|[\s/;(])(?P<tool>ip6?tables(?:-legacy|-nft)?(?:-save)?|nft)(?=\s|$)")
_TABLE = re.compile(r"(?:^|\s)(?:-t|--table)\s*(?P<table>\w+)")
_SAVE_LINE = re.compile(r"^(?:\[\d+:\d+\] +)?-[ANP] |^:\S+ \S+|^\*\w|^COMMIT\s*$")
_LIST_LINE = re.compile(r"^Chain \S+ \(")
_COLUMNS = re.compile(r"^ *(num +)?(pkts +bytes +)?target +prot")
_FENCE = re.compile(r"^\s*(```|~~~)")
_ELISION = re.compile(r"^\s*(\.{3,}|…+|\[\.\.\.\]|\[…\])\s*$")
_GREP_SEPARATOR = re.compile(r"^\s*--\s*$")
#: an author's note after a rule: `← 1`, `<-- the pod`, `# the pod IP` (not inside a /* */ comment)
_NOTE = re.compile(r"\s+(?:←|<-+|#)\s.*$")
_PASTE_SIGNS = (PROMPT, _FENCE, _ELISION, _GREP_SEPARATOR)


@dataclass(frozen=True, slots=True)
class Section:
    """One command's output inside a paste: lines [start, end) of the text (1-based start), and
    what its prompt said about it."""

    start: int
    end: int
    fmt: str | None = None  # "iptables-list" or "iptables-save" (covers -S), when a prompt said so
    table: str | None = None  # from `-t TABLE`
    family: str | None = None  # "ipv6" for ip6tables
    command: str | None = None


def looks_pasted(text: str) -> bool:
    """Whether text shows signs of a paste that `lenient` could repair (for the error's hint)."""
    lines = text.splitlines()
    if any(p.match(line) for line in lines for p in _PASTE_SIGNS):
        return True
    if any(_NOTE.search(line) and "/*" not in line for line in lines if line.lstrip().startswith(("-A", "0", "1"))):
        return True
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    return bool(indents) and min(indents) > 0


def sections(text: str) -> list[Section]:
    """The command outputs of a paste, or one section for text of one format with no prompt."""
    lines = text.split("\n")
    found: list[Section] = []
    start, fmt, info = 1, None, Section(1, 1)
    for number, line in enumerate(lines, 1):
        prompt = PROMPT.match(line)
        kind = "iptables-list" if _LIST_LINE.match(line) else "iptables-save" if _SAVE_LINE.match(line) else None
        if prompt and _TOOL.search(prompt["command"]):
            found.append(_section(info, start, number))
            info, start, fmt = _from_command(prompt["command"], number + 1), number + 1, None
        elif kind is not None and fmt is not None and kind != fmt:
            found.append(_section(info, start, number))
            info, start = Section(number, number), number
            fmt = kind
        elif kind is not None and fmt is None:
            fmt = kind
    found.append(_section(info, start, len(lines) + 1))
    return [s for s in found if any(lines[i - 1].strip() for i in range(s.start, s.end))]


def _section(info: Section, start: int, end: int) -> Section:
    return Section(start, end, info.fmt, info.table, info.family, info.command)


def _from_command(command: str, start: int) -> Section:
    tool = _TOOL.search(command)
    name = tool["tool"] if tool else ""
    if name == "nft":
        fmt = "nft"
    elif name.endswith("-save") or re.search(r"(?:^|\s)(?:-S|--list-rules)\b", command):
        fmt = "iptables-save"
    elif re.search(r"(?:^|\s)(?:-\w*L\w*|--list)\b", command):
        fmt = "iptables-list"
    else:
        fmt = None
    table = _TABLE.search(command)
    return Section(start, start, fmt, table["table"] if table else ("filter" if fmt == "iptables-list" else None),
                   "ipv6" if name.startswith("ip6") else None, command)


def section_text(text_lines: list[str], section: Section) -> str:
    """The section alone, with blank lines before it so that its line numbers are the paste's."""
    return "\n" * (section.start - 1) + "\n".join(text_lines[section.start - 1:section.end - 1]) + "\n"


def is_paste(text: str) -> bool:
    """Several command outputs (prompts, or both formats), which are read section by section."""
    has_list = has_save = False
    for line in text.split("\n"):
        if PROMPT.match(line) and _TOOL.search(PROMPT.match(line)["command"]):  # type: ignore[index]
            return True
        has_list = has_list or bool(_LIST_LINE.match(line))
        has_save = has_save or bool(_SAVE_LINE.match(line))
        if has_list and has_save:
            return True
    return False


def repair(text: str) -> tuple[str, list[InputNote]]:
    """The text with what a person or a web page added taken out, line for line (a removed line
    stays as an empty one), and a note for each change."""
    lines = text.split("\n")
    notes: list[InputNote] = []
    for i, line in enumerate(lines):
        for pattern, what in ((_FENCE, "a Markdown code fence"), (_GREP_SEPARATOR, "a grep `--` separator"),
                              (_ELISION, "an elision mark")):
            if pattern.match(line):
                lines[i] = ""
                notes.append(InputNote(i + 1, "repaired", f"removed {what}"))
                break
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    indent = min(indents) if indents else 0
    if indent:
        lines = [line[indent:] if line.strip() else line for line in lines]
        notes.append(InputNote(1, "repaired", f"removed an indentation of {indent} spaces from every line"))
    for i, line in enumerate(lines):
        note = _NOTE.search(line)
        if note and _outside_comments(line, note.start()) and not line.lstrip().startswith("#"):
            notes.append(InputNote(i + 1, "repaired", f"removed a note after the rule: {note.group().strip()!r}"))
            lines[i] = line[:note.start()]
    for i in range(len(lines) - 2):  # a blank line between a chain header and its column line
        if _LIST_LINE.match(lines[i]) and not lines[i + 1].strip() and _COLUMNS.match(lines[i + 2]):
            lines[i], lines[i + 1] = "", lines[i]
            notes.append(InputNote(i + 1, "repaired", "moved a chain header down to its column line, over a blank line"))
    notes.extend(_blank_lines_in_blocks(lines))
    return "\n".join(lines), notes


def _outside_comments(line: str, at: int) -> bool:
    """Whether position `at` is outside every `/* … */` and quoted string of the line."""
    before = line[:at]
    return before.count("/*") == before.count("*/") and before.count('"') % 2 == 0


def _blank_lines_in_blocks(lines: list[str]) -> list[InputNote]:
    """Notes for blank lines between two rule lines of one `-L` chain block (the lenient listing
    parser reads across them)."""
    notes, in_block = [], False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _LIST_LINE.match(line):
            in_block = True
        elif not stripped and in_block:
            following = next((n for n in lines[i + 1:] if n.strip()), "")
            if following and not _LIST_LINE.match(following) and not PROMPT.match(following) \
                    and not following.lstrip().startswith("#") and not _SAVE_LINE.match(following):
                notes.append(InputNote(i + 1, "repaired", "read across a blank line inside a chain block"))
            else:
                in_block = False
        elif _SAVE_LINE.match(line) or PROMPT.match(line):
            in_block = False
    return notes

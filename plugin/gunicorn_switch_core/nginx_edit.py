"""Splice edits into one nginx file, leaving every byte outside the edited directives alone.

Edits are collected against the original offsets and applied together, so the order in which a
caller records them does not matter and no offset is invalidated by an earlier edit. New lines
use the file's newline (CRLF files stay CRLF) and the indentation of their neighbours.
"""
import re

from .nginx_tokens import NginxConfigError, decode, encode

_NEEDS_QUOTES = re.compile(r"""[\s;{}#"'\\]|^$""")


def quote(value):
    """An nginx word for ``value``: bare when safe, double-quoted (with escapes) otherwise."""
    if not _NEEDS_QUOTES.search(value) and not value.startswith("${"):
        return value
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


class Editor(object):
    def __init__(self, data, filename="<string>"):
        self.text = decode(data)
        self.filename = filename
        self.newline = "\r\n" if self.text.count("\r\n") * 2 > self.text.count("\n") else "\n"
        self.unit = self._indent_unit()
        self._edits = []  # (start, end, replacement, sequence)

    # -- layout -----------------------------------------------------------------------------

    def _indent_unit(self):
        widths = set()
        for m in re.finditer(r"(?m)^([ \t]+)\S", self.text):
            widths.add(m.group(1))
        if any(w.startswith("\t") for w in widths):
            return "\t"
        sizes = sorted(len(w) for w in widths)
        for size in sizes:
            if size in (2, 4, 8):
                return " " * size
        return "    "

    def line_start(self, offset):
        return self.text.rfind("\n", 0, offset) + 1

    def line_end(self, offset):
        """Offset of the newline (``\\r\\n`` or ``\\n``) ending the line that holds ``offset``."""
        nl = self.text.find("\n", offset)
        if nl < 0:
            return len(self.text)
        return nl - 1 if nl > 0 and self.text[nl - 1] == "\r" else nl

    def starts_line(self, offset):
        return not self.text[self.line_start(offset):offset].strip()

    def indent_of(self, directive):
        ls = self.line_start(directive.start)
        lead = self.text[ls:directive.start]
        if lead.strip():
            lead = lead[:len(lead) - len(lead.lstrip())]
        return lead

    def child_indent(self, block_directive):
        for child in block_directive.block or ():
            if child.filename == block_directive.filename and self.starts_line(child.start):
                return self.indent_of(child)
        return self.indent_of(block_directive) + self.unit

    def _rest_of_line_is_blank_or_comment(self, offset):
        rest = self.text[offset:self.line_end(offset)].strip()
        return not rest or rest.startswith("#")

    def render(self, lines, indent):
        """Lines of text (a list, nested lists are one more level in) at ``indent``."""
        out = []
        for line in lines:
            if isinstance(line, (list, tuple)):
                out.extend(self.render(line, indent + self.unit))
            else:
                out.append(indent + line if line else "")
        return out

    # -- recording edits --------------------------------------------------------------------

    def _add(self, start, end, replacement):
        if not (0 <= start <= end <= len(self.text)):
            raise NginxConfigError("edit out of range", self.filename)
        self._edits.append((start, end, replacement, len(self._edits)))

    def replace_span(self, start, end, text):
        self._add(start, end, text)

    def replace(self, directive, lines):
        """Put ``lines`` where ``directive`` was (the first line takes its place)."""
        indent = self.indent_of(directive)
        rendered = self.render(lines, indent)
        text = rendered[0][len(indent):] if rendered[0].startswith(indent) else rendered[0]
        text = self.newline.join([text] + rendered[1:])
        self._add(directive.start, directive.end, text)

    def rename(self, directive, name):
        t = directive.name_token
        self._add(t.start, t.end, name)

    def set_arg(self, directive, index, value):
        t = directive.arg_tokens[index]
        self._add(t.start, t.end, value)

    def delete(self, directive):
        """Remove the directive, and its line when nothing else (but a comment) is on it."""
        start, end = directive.start, directive.end
        ls = self.line_start(start)
        le = self.line_end(end)
        if not self.text[ls:start].strip() and not self.text[end:le].strip():
            nl_end = le + (2 if self.text.startswith("\r\n", le) else 1)
            self._add(ls, min(nl_end, len(self.text)), "")
            return
        while end < le and self.text[end] in " \t":
            end += 1
        self._add(start, end, "")

    def insert_after(self, directive, lines):
        if self._rest_of_line_is_blank_or_comment(directive.end):
            pos = self.line_end(directive.end)
            indent = self.indent_of(directive)
            text = "".join(self.newline + line for line in self.render(lines, indent))
        else:
            pos = directive.end
            text = "".join(" " + line for line in self.render(lines, ""))
        self._add(pos, pos, text)

    def insert_before(self, directive, lines):
        if self.starts_line(directive.start):
            pos = self.line_start(directive.start)
            indent = self.indent_of(directive)
            text = "".join(line + self.newline for line in self.render(lines, indent))
        else:
            pos = directive.start
            text = "".join(line + " " for line in self.render(lines, ""))
        self._add(pos, pos, text)

    def insert_into(self, block_directive, lines, at_end=True):
        """Add ``lines`` as the first or last children of ``block_directive``."""
        indent = self.child_indent(block_directive)
        rendered = self.render(lines, indent)
        if at_end:
            close = block_directive.end_token.start
            if self.starts_line(close) and close > block_directive.open_token.end:
                pos = self.line_start(close)
                text = "".join(line + self.newline for line in rendered)
            else:
                pos = close
                text = "".join(line.strip() + " " for line in rendered)
        else:
            pos = block_directive.open_token.end
            if self._rest_of_line_is_blank_or_comment(pos):
                pos = self.line_end(pos)
                text = "".join(self.newline + line for line in rendered)
            else:
                text = "".join(" " + line.strip() for line in rendered)
        self._add(pos, pos, text)

    # -- result -----------------------------------------------------------------------------

    @property
    def changed(self):
        return bool(self._edits)

    def changes(self):
        """The edits in file order: (start, end, replacement); overlapping edits are a bug."""
        edits = sorted(self._edits, key=lambda e: (e[0], e[1], e[3]))
        last_end = 0
        for start, end, _, _ in edits:
            if start < last_end:
                raise NginxConfigError("overlapping edits at offset %d" % start, self.filename)
            last_end = max(last_end, end)
        return [(s, e, r) for s, e, r, _ in edits]

    def result_text(self):
        out = []
        pos = 0
        for start, end, replacement in self.changes():
            out.append(self.text[pos:start])
            out.append(replacement)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)

    def result(self):
        return encode(self.result_text())

"""A lossless tokenizer and light parser for nginx configuration.

Every token keeps its offsets into the text, so an editor can splice a directive and leave every
other byte alone. Bytes are decoded as UTF-8 with ``surrogateescape``: any byte sequence (GBK
comments, stray Latin-1) survives ``decode`` → ``encode`` unchanged, and offsets index that text.

The word rules follow nginx's own reader (``ngx_conf_read_token``): a word ends at whitespace,
``;`` or ``{`` (``}`` and ``#`` inside a word are literal, ``${`` does not open a block), quotes
only open at the start of a word, and ``*_by_lua_block`` bodies are Lua, scanned by Lua's rules
(strings, long brackets, ``--`` comments) so their braces do not confuse the nesting.
"""
import collections

MAX_BYTES = 1024 * 1024
ENCODING = "utf-8"
ERRORS = "surrogateescape"

WORD = "word"
SEMI = ";"
OPEN = "{"
CLOSE = "}"
COMMENT = "comment"
LUA = "lua"

_SPACE = " \t\r\n"
_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", '"': '"', "'": "'", "\\": "\\"}


class NginxConfigError(ValueError):
    """A configuration nginx would refuse, or that we refuse to edit; names file and line."""

    def __init__(self, message, filename="<string>", line=None):
        self.message = message
        self.filename = filename
        self.line = line
        where = filename if line is None else "%s:%d" % (filename, line)
        super(NginxConfigError, self).__init__("%s: %s" % (where, message))


Token = collections.namedtuple("Token", "kind text start end line")


def decode(data):
    """Bytes → text whose offsets the tokenizer uses; text is returned as it is."""
    if isinstance(data, str):
        return data
    return bytes(data).decode(ENCODING, ERRORS)


def encode(text):
    return text.encode(ENCODING, ERRORS)


def unquote(raw):
    """The value nginx sees for a word: quotes removed, nginx's escapes applied."""
    if len(raw) >= 2 and raw[0] in "\"'" and raw[-1] == raw[0]:
        raw = raw[1:-1]
    if "\\" not in raw:
        return raw
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _Lines(object):
    """Offset → 1-based line number, for error messages and tokens."""

    def __init__(self, text):
        self.starts = [0]
        pos = text.find("\n")
        while pos >= 0:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def __call__(self, offset):
        import bisect
        return bisect.bisect_right(self.starts, offset)


def _check(text, data, filename):
    size = len(data) if isinstance(data, (bytes, bytearray)) else len(encode(text))
    if size > MAX_BYTES:
        raise NginxConfigError("file is larger than %d bytes" % MAX_BYTES, filename)
    nul = text.find("\0")
    if nul >= 0:
        raise NginxConfigError("binary data (NUL byte), not an nginx config", filename,
                               text.count("\n", 0, nul) + 1)


def _skip_lua_long_bracket(text, i):
    """If text[i:] opens a Lua long bracket ``[==[``, return the offset after its close."""
    j = i + 1
    while j < len(text) and text[j] == "=":
        j += 1
    if j >= len(text) or text[j] != "[":
        return None
    close = "]" + "=" * (j - i - 1) + "]"
    end = text.find(close, j + 1)
    if end < 0:
        return -1
    return end + len(close)


def _scan_lua(text, i, filename, lines):
    """Offset of the ``}`` closing a Lua block whose body starts at ``i``."""
    depth = 1
    n = len(text)
    start = i
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            if text.startswith("[", i + 2):
                end = _skip_lua_long_bracket(text, i + 2)
                if end == -1:
                    raise NginxConfigError("unterminated Lua comment", filename, lines(i))
                if end is not None:
                    i = end
                    continue
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if c == "[":
            end = _skip_lua_long_bracket(text, i)
            if end == -1:
                raise NginxConfigError("unterminated Lua long string", filename, lines(i))
            if end is not None:
                i = end
                continue
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if j >= n or text[j] != c:
                raise NginxConfigError("unterminated Lua string", filename, lines(i))
            i = j + 1
            continue
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise NginxConfigError("unexpected end of file in Lua block", filename, lines(start))


def tokenize(data, filename="<string>"):
    """All tokens of ``data`` (bytes or text) in order; whitespace is what lies between them."""
    text = decode(data)
    _check(text, data, filename)
    lines = _Lines(text)
    tokens = []
    statement = []  # words of the directive being read: decides when a Lua body starts
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
            continue
        if c == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            if text[end - 1:end] == "\r":
                end -= 1
            tokens.append(Token(COMMENT, text[i:end], i, end, lines(i)))
            i = end
            continue
        if c in ";{}":
            kind = {";": SEMI, "{": OPEN, "}": CLOSE}[c]
            tokens.append(Token(kind, c, i, i + 1, lines(i)))
            lua = (c == "{" and len(statement) == 1
                   and unquote(statement[0].text).endswith("_by_lua_block"))
            statement = []
            i += 1
            if lua:
                close = _scan_lua(text, i, filename, lines)
                tokens.append(Token(LUA, text[i:close], i, close, lines(i)))
                tokens.append(Token(CLOSE, "}", close, close + 1, lines(close)))
                i = close + 1
            continue
        start = i
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise NginxConfigError("unterminated quoted string", filename, lines(start))
            i = j + 1
            # nginx wants a separator after a closing quote; ")" closes an if condition.
            if i < n and text[i] not in _SPACE + ";{)":
                raise NginxConfigError("unexpected %r after quoted string" % text[i],
                                       filename, lines(i))
        else:
            j = i
            while j < n:
                ch = text[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch in _SPACE or ch == ";" or (ch == "{" and text[j - 1:j] != "$"):
                    break
                j += 1
            i = min(j, n)
        tok = Token(WORD, text[start:i], start, i, lines(start))
        tokens.append(tok)
        statement.append(tok)
    return tokens


class Directive(object):
    """One directive: its name, its args, where it lies in the file, and its block if any.

    ``start``/``end`` cover the name through the closing ``;`` or ``}``. ``block`` is None for
    simple directives and a list of child directives otherwise; ``lua`` holds the opaque body
    token of a ``*_by_lua_block``.
    """

    __slots__ = ("name_token", "arg_tokens", "end_token", "open_token", "block", "lua",
                 "filename", "parent")

    def __init__(self, name_token, arg_tokens, filename):
        self.name_token = name_token
        self.arg_tokens = arg_tokens
        self.end_token = None
        self.open_token = None
        self.block = None
        self.lua = None
        self.filename = filename
        self.parent = None

    @property
    def name(self):
        return unquote(self.name_token.text)

    @property
    def args(self):
        return [unquote(t.text) for t in self.arg_tokens]

    @property
    def start(self):
        return self.name_token.start

    @property
    def end(self):
        return self.end_token.end

    @property
    def line(self):
        return self.name_token.line

    @property
    def arg_spans(self):
        return [(t.start, t.end) for t in self.arg_tokens]

    def walk(self):
        """This directive and all below it, depth first, in file order."""
        yield self
        for child in self.block or ():
            for d in child.walk():
                yield d

    def __repr__(self):
        return "<Directive %s %r @%s:%d>" % (self.name, self.args, self.filename, self.line)


class Config(object):
    """A parsed file: its text, its tokens and its top-level directives."""

    def __init__(self, text, filename, tokens, directives):
        self.text = text
        self.filename = filename
        self.tokens = tokens
        self.directives = directives

    def walk(self):
        for d in self.directives:
            for x in d.walk():
                yield x


def parse(data, filename="<string>"):
    """Parse ``data`` into a ``Config``; raises ``NginxConfigError`` on what nginx would refuse."""
    text = decode(data)
    tokens = tokenize(data, filename)
    top = []
    stack = [(None, top)]
    words = []
    for tok in tokens:
        if tok.kind == COMMENT:
            continue
        if tok.kind in (WORD,):
            words.append(tok)
            continue
        if tok.kind == LUA:
            stack[-1][0].lua = tok
            continue
        owner, children = stack[-1]
        if tok.kind == CLOSE:
            if words:
                raise NginxConfigError('unexpected "}"', filename, tok.line)
            if owner is None:
                raise NginxConfigError('unexpected "}"', filename, tok.line)
            owner.end_token = tok
            stack.pop()
            continue
        if not words:
            raise NginxConfigError('unexpected "%s"' % tok.text, filename, tok.line)
        d = Directive(words[0], words[1:], filename)
        d.parent = owner
        words = []
        children.append(d)
        if tok.kind == SEMI:
            d.end_token = tok
        else:
            d.open_token = tok
            d.block = []
            stack.append((d, d.block))
    if words:
        raise NginxConfigError('unexpected end of file, expecting ";" or "}"', filename,
                               words[0].line)
    if len(stack) > 1:
        raise NginxConfigError('unexpected end of file, expecting "}"', filename,
                               stack[-1][0].line)
    return Config(text, filename, tokens, top)

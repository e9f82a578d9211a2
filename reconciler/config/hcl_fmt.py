"""``terraform fmt`` for HCL text: the same tokens, the same syntax check, the same layout.

Terraform formats with HashiCorp's ``hclwrite``: it lexes the file with ``hclsyntax``'s
scanner, refuses it when ``hclsyntax`` cannot parse it, applies three rewrites
(``"${x}"`` -> ``x`` for an attribute whose value is one interpolation; legacy
``type = "string"`` / ``list`` in top-level ``variable`` blocks; block labels quoted),
then sets the spaces before every token: indentation by bracket nesting, single
spaces by token kind, and ``=`` and trailing comments aligned in runs of lines. This
module does the same, in the same order, so that its output is byte for byte what
``terraform fmt`` writes (tests/cikit/test_fmt_terraform.py checks that against the
real binary). Two deliberate differences, both where terraform loses data: a quoted
block label holding ``$`` or ``%`` (which terraform drops) and a ``/* */`` comment
between block labels (which terraform deletes) are kept.

Formatting changes only the spaces between tokens (and the rewrites above); the
result is lexed again and must give the same tokens, or the text is refused
(:class:`HclFormatError`), never changed. No I/O.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["HclFormatError", "format_hcl_text", "tokenize"]


class HclFormatError(Exception):
    """The text is not valid HCL (or could not be formatted without changing it); nothing was changed."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Token:
    type: str
    text: str
    start: int
    spaces: int = 0
    """Spaces before the token (what formatting sets)."""


# ---------------------------------------------------------------- scanner (hclsyntax's scan_tokens.rl)

_MAIN = re.compile(r"""
    (?P<SPACES>[ \t]+)
  | (?P<NUMBER>\d(?:(?:\d|\.|[eE][+-]?\d)*(?:\d|[eE][+-]?\d))?)
  | (?P<IDENT>[^\W\d][\w-]*)
  | (?P<COMMENT>(?:\#|//)[^\n]*\n?|/\*.*?\*/)
  | (?P<NEWLINE>\r?\n)
  | (?P<OHEREDOC><<-?(?P<marker>[^\W\d][\w-]*)\r?\n)
  | (?P<OQUOTE>")
  | (?P<OBRACE>\{)
  | (?P<CLOSE>~?\})
  | (?P<SYMBOL>\.\.\.|==|!=|>=|<=|&&|\|\||::|=>|[\[\]().,*/%+\-=<>!?:&|~^;`'])
""", re.S | re.X)
_TEMPLATE_START = re.compile(r"[$%]\{~?")
_QUOTED_LITERAL = re.compile(r"(?:\$\$\{|%%\{|\\[^\r\n]?|[$%](?!\{)|[^\"\\$%\r\n])+")
_HEREDOC_LITERAL = re.compile(r"(?:\$\$\{|%%\{|[$%](?!\{)|[^$%\n])*\n?")
_SYMBOLS = {
    "...": "ELLIPSIS",
    "==": "EQ_OP", "!=": "NE", ">=": "GE", "<=": "LE", "&&": "AND", "||": "OR", "::": "DCOLON", "=>": "ARROW",
    "[": "OBRACK", "]": "CBRACK", "(": "OPAREN", ")": "CPAREN", ".": "DOT", ",": "COMMA", "*": "STAR",
    "/": "SLASH", "%": "PERCENT", "+": "PLUS", "-": "MINUS", "=": "EQUAL", "<": "LT", ">": "GT", "!": "BANG",
    "?": "QUESTION", ":": "COLON", "&": "BITWISE", "|": "BITWISE", "~": "BITWISE", "^": "BITWISE",
    ";": "SEMICOLON", "`": "BACKTICK", "'": "APOSTROPHE",
}
_INVALID_TYPES = {
    "BITWISE": "Unsupported operator: bitwise operators are not supported",
    "SEMICOLON": "Invalid character: the ';' character is not valid; use newlines to separate arguments and blocks",
    "BACKTICK": "Invalid character: the '`' character is not valid; use double quotes for strings",
    "APOSTROPHE": "Invalid character: single quotes are not valid; use double quotes (\") to enclose strings",
    "QUOTED_NEWLINE": "Invalid multi-line string: quoted strings may not be split over multiple lines; "
                      "use the \\n escape or a heredoc (<<EOT)",
    "INVALID": "Invalid character: this character is not used within the language",
}
_OPENERS = {"OBRACE", "OBRACK", "OPAREN", "INTERP", "CONTROL"}
_CLOSERS = {"CBRACE", "CBRACK", "CPAREN", "SEQ_END"}


class _Scanner:
    """hclsyntax's scanner modes: the main language, quoted templates and heredoc templates, with
    ``${``/``%{`` sequences returning to the main mode until their closing brace."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.modes: list[str] = ["main"]
        self.braces = 0
        self.return_braces: list[int] = []
        self.heredocs: list[tuple[str, bool]] = []  # (marker, at the start of a line)
        self.last_end = 0

    def emit(self, kind: str, start: int, end: int) -> None:
        self.tokens.append(Token(kind, self.text[start:end], start, start - self.last_end))
        self.last_end = end

    def run(self) -> list[Token]:
        text, n, i = self.text, len(self.text), 0
        while i < n:
            mode = self.modes[-1]
            if mode == "main":
                i = self.main(i)
                continue
            opener = _TEMPLATE_START.match(text, i)
            if opener is not None:
                self.emit("INTERP" if text[i] == "$" else "CONTROL", i, opener.end())
                self.braces += 1
                self.return_braces.append(self.braces)
                if mode == "heredoc":
                    self.heredocs[-1] = (self.heredocs[-1][0], False)
                self.modes.append("main")
                i = opener.end()
            elif mode == "string":
                i = self.quoted(i)
            else:
                i = self.heredoc(i)
        self.tokens.append(Token("EOF", "", n, n - self.last_end))
        return self.tokens

    def main(self, i: int) -> int:
        match = _MAIN.match(self.text, i)
        if match is None:
            self.emit("INVALID", i, i + 1)
            return i + 1
        kind = match.lastgroup
        end = match.end()
        if kind == "marker":
            kind = "OHEREDOC"
        if kind == "SPACES":
            return end
        if kind == "SYMBOL":
            kind = _SYMBOLS[match.group()]
        elif kind == "OHEREDOC":
            self.heredocs.append((match.group("marker"), True))
            self.modes.append("heredoc")
        elif kind == "OQUOTE":
            self.modes.append("string")
        elif kind == "OBRACE":
            self.braces += 1
        elif kind == "CLOSE":
            tilde = end - i == 2
            if self.return_braces and self.return_braces[-1] == self.braces:
                kind = "SEQ_END"
                self.return_braces.pop()
                self.modes.pop()
            else:
                kind = "SEQ_END" if tilde else "CBRACE"
            self.braces -= 1
        self.emit(kind, i, end)
        return end

    def quoted(self, i: int) -> int:
        text = self.text
        if text[i] == '"':
            self.emit("CQUOTE", i, i + 1)
            self.modes.pop()
            return i + 1
        if text[i] in "\r\n":
            end = i
            while end < len(text) and text[end] in "\r\n":
                end += 1
            self.emit("QUOTED_NEWLINE", i, end)
            return end
        match = _QUOTED_LITERAL.match(text, i)
        end = match.end() if match is not None and match.end() > i else i + 1
        self.emit("QUOTED_LIT", i, end)
        return end

    def heredoc(self, i: int) -> int:
        text = self.text
        match = _HEREDOC_LITERAL.match(text, i)
        end = match.end() if match is not None else i
        marker, at_line_start = self.heredocs[-1]
        if end > i and text[end - 1] == "\n":
            if at_line_start and text[i:end].strip() == marker:
                close = end - 2 if end - 2 >= i and text[end - 2] == "\r" else end - 1
                self.emit("CHEREDOC", i, close)
                self.emit("NEWLINE", close, end)
                self.heredocs.pop()
                self.modes.pop()
                return end
            self.heredocs[-1] = (marker, True)
        else:
            self.heredocs[-1] = (marker, False)
        if end == i:
            end = i + 1
        self.emit("STRING_LIT", i, end)
        return end


def tokenize(text: str) -> list[Token]:
    """``text`` as hclsyntax's tokens (the last one ``EOF``), each with the spaces before it."""
    return _Scanner(text).run()


# ---------------------------------------------------------------- syntax check (hclsyntax's parser)

_BINARY_OPERATORS = {"OR", "AND", "EQ_OP", "NE", "LT", "LE", "GT", "GE", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}
_NUMBER_VALUE = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\Z")
_ESCAPE = re.compile(r"\\(?:[nrt\"\\]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")


@dataclass
class _Attribute:
    path: tuple[str, ...]
    name: str
    start: int
    end: int
    """Token indexes of the value expression: ``tokens[start:end]``."""


@dataclass
class _Block:
    type_index: int
    open_index: int
    labels: list[tuple[int, int]] = field(default_factory=list)


class _Parser:
    """Just enough of hclsyntax's parser to accept what it accepts and refuse what it refuses (first
    error only), recording attributes and block labels for terraform's rewrites."""

    def __init__(self, tokens: list[Token], text: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.newlines = [True]
        self.attributes: list[_Attribute] = []
        self.blocks: list[_Block] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- peeking, as hclsyntax's peeker: comments are skipped, a # or // comment is a newline where
    #    newlines count, newlines are skipped inside brackets

    def _next(self) -> tuple[int, str]:
        i = self.pos
        while True:
            token = self.tokens[i]
            if token.type == "COMMENT":
                if self.newlines[-1] and token.text.endswith("\n"):
                    return i, "NEWLINE"
                i += 1
                continue
            if token.type == "NEWLINE" and not self.newlines[-1]:
                i += 1
                continue
            return i, token.type

    def peek(self) -> str:
        return self._next()[1]

    def peek_token(self) -> Token:
        return self.tokens[self._next()[0]]

    def read(self) -> tuple[int, str]:
        i, kind = self._next()
        if kind != "EOF":
            self.pos = i + 1
        return i, kind

    def fail(self, index: int, summary: str) -> HclFormatError:
        offset = self.tokens[index].start
        line = bisect.bisect_right(self._line_starts, offset)
        return HclFormatError(summary, line, offset - self._line_starts[line - 1] + 1)

    def keyword(self, word: str) -> bool:
        token = self.peek_token()
        return token.type == "IDENT" and token.text == word

    # -- bodies

    def parse_file(self) -> None:
        for index, token in enumerate(self.tokens):
            if token.type in _INVALID_TYPES:
                raise self.fail(index, _INVALID_TYPES[token.type])
        self.parse_body("EOF", ())

    def parse_body(self, end: str, path: tuple[str, ...]) -> None:
        names: set[str] = set()
        while True:
            index, kind = self._next()
            if kind == end:
                self.read()
                return
            if kind == "NEWLINE":
                self.read()
                continue
            if kind == "IDENT":
                self.parse_item(path, names)
                continue
            if kind == "OQUOTE":
                raise self.fail(index, "Invalid argument name: argument names must not be quoted")
            if kind == "EOF":
                raise self.fail(index, "Unclosed configuration block: there is no closing brace for this block "
                                       "before the end of the file")
            raise self.fail(index, "Argument or block definition required")

    def parse_item(self, path: tuple[str, ...], names: set[str]) -> None:
        ident, _ = self.read()
        kind = self.peek()
        if kind == "EQUAL":
            self.parse_attribute(path, ident, names, single_line=False)
        elif kind in ("OQUOTE", "OBRACE", "IDENT"):
            self.parse_block(path, ident)
        else:
            raise self.fail(ident, "Argument or block definition required: to set an argument, use the equals "
                                   "sign \"=\" to introduce the argument value")

    def parse_attribute(self, path: tuple[str, ...], ident: int, names: set[str], *, single_line: bool) -> None:
        name = self.tokens[ident].text
        if name in names:
            raise self.fail(ident, f"Attribute redefined: the argument {name!r} was already set; each argument "
                                   "may be set only once")
        names.add(name)
        self.read()  # =
        start = self._next()[0]
        self.parse_expression()
        self.attributes.append(_Attribute(path, name, start, self.pos))
        if single_line:
            return
        index, kind = self._next()
        if kind == "NEWLINE":
            self.read()
        elif kind != "EOF":
            raise self.fail(index, "Unexpected comma after argument: argument definitions must be separated by "
                                   "newlines, not commas" if kind == "COMMA"
                            else "Missing newline after argument: an argument definition must end with a newline")

    def parse_block(self, path: tuple[str, ...], ident: int) -> None:
        block = _Block(ident, -1)
        while True:
            index, kind = self._next()
            if kind == "OBRACE":
                self.read()
                block.open_index = index
                break
            if kind == "OQUOTE":
                start = index
                self.read()
                while True:
                    inner, inner_kind = self.read()
                    if inner_kind == "CQUOTE":
                        break
                    if inner_kind == "QUOTED_LIT":
                        self.check_escapes(inner)
                        continue
                    if inner_kind in ("INTERP", "CONTROL"):
                        raise self.fail(inner, "Invalid string literal: template sequences are not allowed in a "
                                               "block label")
                    raise self.fail(inner, "Unterminated string literal")
                block.labels.append((start, self.pos))
                continue
            if kind == "IDENT":
                self.read()
                block.labels.append((index, index + 1))
                continue
            if kind == "EQUAL":
                raise self.fail(index, "Invalid block definition: the equals sign \"=\" indicates an argument "
                                       "definition, and must not be used when defining a block")
            if kind == "NEWLINE":
                raise self.fail(index, "Invalid block definition: a block definition must have block content "
                                       "delimited by \"{\" and \"}\", starting on the same line as the block header")
            raise self.fail(index, "Invalid block definition: either a quoted string block label or an opening "
                                   "brace (\"{\") is expected here")
        self.blocks.append(block)
        inner_path = path + (self.tokens[ident].text,)
        if self.peek() in ("NEWLINE", "EOF", "CBRACE"):
            self.parse_body("CBRACE", inner_path)
        else:
            first, kind = self._next()
            if kind != "IDENT":
                raise self.fail(first, "Argument or block definition required")
            self.read()
            if self.peek() != "EQUAL":
                raise self.fail(first, "Argument definition required: a single-line block definition can contain "
                                       "only a single argument")
            self.parse_attribute(inner_path, first, set(), single_line=True)
            index, kind = self._next()
            if kind == "EOF":
                raise self.fail(block.open_index, "Unclosed configuration block: there is no closing brace for this "
                                                  "block before the end of the file")
            if kind != "CBRACE":
                raise self.fail(index, "Invalid single-argument block definition: a single-line block must be "
                                       "closed on the same line, right after its one argument")
            self.read()
        index, kind = self._next()
        if kind == "NEWLINE":
            self.read()
        elif kind != "EOF":
            raise self.fail(index, "Missing newline after block definition: a block definition must end with a "
                                   "newline")

    # -- expressions

    def parse_expression(self) -> None:
        self.parse_binary()
        if self.peek() == "QUESTION":
            self.read()
            self.parse_expression()
            index, kind = self._next()
            if kind != "COLON":
                raise self.fail(index, "Missing false expression in conditional: the conditional operator "
                                       "(...?...:...) requires a false expression, delimited by a colon")
            self.read()
            self.parse_expression()

    def parse_binary(self) -> None:
        """Operands joined by binary operators (precedence decides the tree, not what is accepted)."""
        self.parse_term()
        self.parse_traversals()
        while self.peek() in _BINARY_OPERATORS:
            self.read()
            self.parse_term()
            self.parse_traversals()

    def parse_traversals(self) -> None:
        while True:
            kind = self.peek()
            if kind == "DOT":
                self.read()
                index, kind = self._next()
                if kind == "IDENT":
                    self.read()
                elif kind == "NUMBER":
                    self.read()
                    if "." in self.tokens[index].text:
                        raise self.fail(index, "Invalid legacy index syntax: chaining two indexes together is not "
                                               "permitted; use [a][b]")
                    self.check_number(index)
                elif kind == "STAR":
                    self.read()
                    while self.peek() == "DOT":
                        self.read()
                        index, kind = self._next()
                        if kind not in ("IDENT", "NUMBER"):
                            raise self.fail(index, "Invalid attribute name: an attribute name is required after a dot")
                        self.read()
                else:
                    raise self.fail(index, "Invalid attribute name: an attribute name is required after a dot")
            elif kind == "OBRACK":
                self.read()
                if self.peek() == "STAR":
                    self.read()
                    index, kind = self.read()
                    if kind != "CBRACK":
                        raise self.fail(index, "Missing close bracket on splat index")
                    continue
                self.newlines.append(False)
                self.parse_expression()
                index, kind = self.read()
                if kind != "CBRACK":
                    raise self.fail(index, "Missing close bracket on index: the index operator must end with \"]\"")
                self.newlines.pop()
            else:
                return

    def check_number(self, index: int) -> None:
        if not _NUMBER_VALUE.match(self.tokens[index].text):
            raise self.fail(index, f"Invalid number literal {self.tokens[index].text!r}")

    def parse_term(self) -> None:
        index, kind = self._next()
        if kind == "OPAREN":
            self.read()
            self.newlines.append(False)
            self.parse_expression()
            close, kind = self._next()
            if kind != "CPAREN":
                raise self.fail(close, "Unbalanced parentheses: expected a closing parenthesis")
            self.read()
            self.newlines.pop()
        elif kind == "NUMBER":
            self.read()
            self.check_number(index)
        elif kind == "IDENT":
            self.read()
            if self.peek() in ("OPAREN", "DCOLON"):
                self.parse_call(index)
        elif kind in ("OQUOTE", "OHEREDOC"):
            self.read()
            self.parse_template("CQUOTE" if kind == "OQUOTE" else "CHEREDOC", index)
        elif kind in ("MINUS", "BANG"):
            self.read()
            self.parse_term()
            self.parse_traversals()
        elif kind == "OBRACK":
            self.parse_tuple()
        elif kind == "OBRACE":
            self.parse_object()
        elif kind == "EOF":
            raise self.fail(index, "Missing expression: expected the start of an expression, but found the end "
                                   "of the file")
        else:
            raise self.fail(index, "Invalid expression: expected the start of an expression, but found "
                                   f"{self.tokens[index].text.strip() or 'a newline'!r}")

    def parse_call(self, name: int) -> None:
        while self.peek() == "DCOLON":
            self.read()
            index, kind = self.read()
            if kind != "IDENT":
                raise self.fail(index, "Missing function name after \"::\"")
        index, kind = self.read()
        if kind != "OPAREN":
            raise self.fail(index, "Missing open parenthesis after the function name")
        self.newlines.append(False)
        while True:
            if self.peek() == "CPAREN":
                self.read()
                break
            self.parse_expression()
            index, kind = self.read()
            if kind == "CPAREN":
                break
            if kind == "ELLIPSIS":
                close, kind = self.read()
                if kind != "CPAREN":
                    raise self.fail(close, "Missing closing parenthesis after the expanded argument")
                break
            if kind != "COMMA":
                raise self.fail(index, "Unterminated function call" if kind == "EOF"
                                else "Missing argument separator: a comma is required between arguments")
            if self.peek() == "CPAREN":
                self.read()
                break
        self.newlines.pop()

    def parse_tuple(self) -> None:
        self.read()
        self.newlines.append(False)
        if self.keyword("for"):
            self.parse_for("CBRACK")
        else:
            while True:
                if self.peek() == "CBRACK":
                    self.read()
                    break
                self.parse_expression()
                index, kind = self._next()
                if kind == "CBRACK":
                    self.read()
                    break
                if kind != "COMMA":
                    raise self.fail(index, "Unterminated tuple constructor expression" if kind == "EOF"
                                    else "Missing item separator: expected a comma between tuple items")
                self.read()
        self.newlines.pop()

    def parse_object(self) -> None:
        self.read()
        self.newlines.append(False)
        is_for = self.keyword("for")
        self.newlines.pop()
        if is_for:
            self.newlines.append(False)
            self.parse_for("CBRACE")
            self.newlines.pop()
            return
        self.newlines.append(True)
        while True:
            kind = self.peek()
            if kind == "NEWLINE":
                self.read()
                continue
            if kind == "CBRACE":
                self.read()
                break
            self.parse_expression()
            index, kind = self._next()
            if kind not in ("EQUAL", "COLON"):
                raise self.fail(index, "Unterminated object constructor expression" if kind == "EOF"
                                else "Missing attribute value" if kind in ("NEWLINE", "COMMA")
                                else "Missing key/value separator: expected an equals sign (\"=\") to mark the "
                                     "beginning of the attribute value")
            self.read()
            self.parse_expression()
            index, kind = self._next()
            if kind == "CBRACE":
                self.read()
                break
            if kind not in ("COMMA", "NEWLINE"):
                raise self.fail(index, "Unterminated object constructor expression" if kind == "EOF"
                                else "Missing attribute separator: expected a newline or comma to mark the "
                                     "beginning of the next attribute")
            self.read()
        self.newlines.pop()

    def parse_for(self, close: str) -> None:
        start = self.read()[0]  # for
        for _ in range(2):
            index, kind = self._next()
            if kind != "IDENT":
                raise self.fail(index, "Invalid 'for' expression: a variable name is required after 'for'")
            self.read()
            if self.peek() != "COMMA":
                break
            self.read()
        if not self.keyword("in"):
            raise self.fail(self._next()[0], "Invalid 'for' expression: the 'in' keyword is required")
        self.read()
        self.parse_expression()
        index, kind = self._next()
        if kind != "COLON":
            raise self.fail(index, "Invalid 'for' expression: a colon is required after the collection")
        self.read()
        self.parse_expression()
        arrow = self.peek() == "ARROW"
        if arrow:
            self.read()
            self.parse_expression()
        group = self.peek() == "ELLIPSIS"
        if group:
            self.read()
        if self.keyword("if"):
            self.read()
            self.parse_expression()
        index, kind = self._next()
        if kind != close:
            raise self.fail(index, "Invalid 'for' expression: extra characters after the end of the expression")
        self.read()
        if close == "CBRACK" and (arrow or group):
            raise self.fail(start, "Invalid 'for' expression: a key (=>) or grouping (...) needs an object "
                                   "'for' expression in braces")
        if close == "CBRACE" and not arrow:
            raise self.fail(start, "Invalid 'for' expression: an object 'for' expression needs a key (=>)")

    def parse_template(self, end: str, opener: int) -> None:
        directives: list[tuple[str, int]] = []
        while True:
            index, kind = self.read()
            if kind == end:
                break
            if kind == "QUOTED_LIT":
                self.check_escapes(index)
            elif kind == "STRING_LIT":
                continue
            elif kind == "INTERP":
                self.newlines.append(False)
                self.parse_expression()
                self.expect_sequence_end("Extra characters after interpolation expression")
                self.newlines.pop()
            elif kind == "CONTROL":
                self.newlines.append(False)
                word_index, word_kind = self.read()
                word = self.tokens[word_index].text if word_kind == "IDENT" else ""
                if word == "if":
                    self.parse_expression()
                    directives.append(("if", index))
                elif word == "for":
                    for _ in range(2):
                        name, name_kind = self.read()
                        if name_kind != "IDENT":
                            raise self.fail(name, "Invalid 'for' directive: a variable name is required")
                        if self.peek() != "COMMA":
                            break
                        self.read()
                    if not self.keyword("in"):
                        raise self.fail(self._next()[0], "Invalid 'for' directive: the 'in' keyword is required")
                    self.read()
                    self.parse_expression()
                    directives.append(("for", index))
                elif word in ("else", "endif", "endfor"):
                    wanted = {"else": ("if",), "endif": ("if", "if-else"), "endfor": ("for",)}[word]
                    if not directives or directives[-1][0] not in wanted:
                        raise self.fail(index, f"Unexpected {word} directive")
                    if word == "else":
                        directives[-1] = ("if-else", directives[-1][1])
                    else:
                        directives.pop()
                else:
                    raise self.fail(word_index, "Invalid template control keyword: expected if, for, else, endif "
                                                "or endfor")
                self.expect_sequence_end(f"Extra characters in {word or 'the'} marker")
                self.newlines.pop()
            elif kind == "EOF":
                raise self.fail(opener, "Unterminated template string: no closing marker before the end of the file")
            else:
                raise self.fail(index, "Unterminated template string" if kind != "QUOTED_NEWLINE"
                                else _INVALID_TYPES["QUOTED_NEWLINE"])
        if directives:
            kind, index = directives[-1]
            raise self.fail(index, f"Unexpected end of template: the {kind.split('-')[0]} directive is missing its "
                                   f"end{kind.split('-')[0]} directive")

    def expect_sequence_end(self, summary: str) -> None:
        index, kind = self._next()
        if kind != "SEQ_END":
            raise self.fail(index, "Unclosed template interpolation sequence" if kind in ("EOF", "CQUOTE")
                            else summary)
        self.read()

    def check_escapes(self, index: int) -> None:
        text = self.tokens[index].text
        at = text.find("\\")
        while at != -1:
            match = _ESCAPE.match(text, at)
            if match is None or (match.group().startswith(("\\u", "\\U")) and not _valid_code_point(match.group())):
                raise self.fail(index, "Invalid escape sequence: the symbol after the backslash is not a valid "
                                       "escape (\\n \\r \\t \\\" \\\\ \\uNNNN \\UNNNNNNNN)")
            at = text.find("\\", match.end())


def _valid_code_point(escape: str) -> bool:
    value = int(escape[2:], 16)
    return value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF


# ---------------------------------------------------------------- terraform fmt's rewrites (command/fmt.go)


def _rewrite(tokens: list[Token], parser: _Parser) -> list[Token]:
    edits: list[tuple[int, int, list[Token]]] = []
    for attribute in parser.attributes:
        expr = tokens[attribute.start:attribute.end]
        if attribute.path == ("variable",) and attribute.name == "type":
            new = _type_expression(expr)
        else:
            new = _unwrap_interpolation(expr)
        if new is not expr:
            edits.append((attribute.start, attribute.end, new))
    for block in parser.blocks:
        for start, end in block.labels:
            new = _quoted_label(tokens[start:end])
            if new is not None:
                edits.append((start, end, new))
    out = list(tokens)
    for start, end, new in sorted(edits, key=lambda edit: edit[0], reverse=True):
        out[start:end] = new
    return out


def _new(kind: str, text: str) -> Token:
    return Token(kind, text, -1)


def _unwrap_interpolation(expr: list[Token]) -> list[Token]:
    """``"${x}"`` -> ``x`` when the quotes hold exactly one interpolation (parenthesized when it spans lines)."""
    if len(expr) < 5 or [t.type for t in (expr[0], expr[1], expr[-2], expr[-1])] != ["OQUOTE", "INTERP", "SEQ_END",
                                                                                        "CQUOTE"]:
        return expr
    inside = expr[2:-2]
    quotes = 0
    for token in inside:
        if token.type == "OQUOTE":
            quotes += 1
        elif token.type == "CQUOTE":
            quotes -= 1
        elif quotes > 0:
            continue
        elif token.type in ("INTERP", "SEQ_END", "QUOTED_LIT"):
            return expr
    start, end = 0, len(inside)
    while start < end and inside[start].type == "NEWLINE":
        start += 1
    while end > start and inside[end - 1].type == "NEWLINE":
        end -= 1
    trimmed = inside[start:end]
    multi_line = leading = trailing = False
    for index, token in enumerate(trimmed):
        if index == 0 and token.type == "OPAREN":
            leading = True
        elif token.type == "NEWLINE":
            multi_line = True
        elif index == len(trimmed) - 1 and token.type == "CPAREN":
            trailing = True
    if multi_line and not (leading and trailing):
        return [_new("OPAREN", "(")] + trimmed + [_new("CPAREN", ")")]
    return trimmed


def _type_expression(expr: list[Token]) -> list[Token]:
    """A top-level variable's ``type``: ``list`` -> ``list(any)``; legacy ``"string"`` -> ``string`` and so on."""
    if len(expr) == 1 and expr[0].type == "IDENT" and expr[0].text in ("list", "map", "set"):
        return [expr[0], _new("OPAREN", "("), _new("IDENT", "any"), _new("CPAREN", ")")]
    if len(expr) == 3 and [t.type for t in expr] == ["OQUOTE", "QUOTED_LIT", "CQUOTE"]:
        word = expr[1].text
        if word == "string":
            return [_new("IDENT", "string")]
        if word in ("list", "map"):
            return [_new("IDENT", word), _new("OPAREN", "("), _new("IDENT", "string"), _new("CPAREN", ")")]
    return expr


def _quoted_label(label: list[Token]) -> list[Token] | None:
    """A block label in its quoted form (terraform quotes ``resource x y`` and re-escapes literals)."""
    if len(label) == 1 and label[0].type == "IDENT":
        value = label[0].text
    elif [t.type for t in label] == ["OQUOTE", "CQUOTE"]:
        return None
    elif [t.type for t in label] == ["OQUOTE", "QUOTED_LIT", "CQUOTE"]:
        value = _unescape(label[1].text)
    else:
        return None
    escaped = _escape(value)
    if label[0].type != "IDENT" and escaped == label[1].text:
        return None
    return [_new("OQUOTE", '"')] + ([_new("QUOTED_LIT", escaped)] if escaped else []) + [_new("CQUOTE", '"')]


_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))|([$%])\4\{")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(4):
            return match.group(4) + "{"
        code = match.group(1) or match.group(2)
        return chr(int(code, 16)) if code else _SIMPLE.get(match.group(3), match.group(3))

    return _UNESCAPE.sub(one, text)


def _escape(value: str) -> str:
    out: list[str] = []
    for index, char in enumerate(value):
        if char in "\n\r\t\"\\":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}[char])
        elif char in "$%":
            out.append(char + (char if value.startswith("{", index + 1) else ""))
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "".join(out)


# ---------------------------------------------------------------- hclwrite's layout (hclwrite/format.go)


@dataclass
class _Line:
    lead: list[Token]
    assign: list[Token] | None = None
    comment: list[Token] | None = None


def _bracket_change(token: Token) -> int:
    if token.type in _OPENERS:
        return 1
    if token.type in _CLOSERS:
        return -1
    return 0


def _ends_line(token: Token) -> bool:
    return token.type == "NEWLINE" or (token.type == "COMMENT" and token.text.endswith("\n"))


def _lines(tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Token] = []
    for token in tokens:
        if token.type == "EOF":
            break
        current.append(token)
        if _ends_line(token):
            lines.append(_Line(current))
            current = []
    if current:
        lines.append(_Line(current))
    for line in lines:
        lead = line.lead
        if len(lead) > 1 and lead[-1].type == "COMMENT":
            line.comment = lead[-1:]
            lead = lead[:-1]
        for index, token in enumerate(lead):
            if index > 0 and token.type == "EQUAL":
                if sum(_bracket_change(t) for t in lead[index:]) == 0:
                    line.assign = lead[index:]
                    lead = lead[:index]
                break
        line.lead = lead
    return lines


def _indent(lines: list[_Line]) -> None:
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        if line.lead[0].type == "NEWLINE":
            line.lead[0].spaces = 0
            continue
        net = 0
        for token in line.lead:
            net += _bracket_change(token)
            if token.type == "OHEREDOC":
                break
        for token in line.assign or ():
            net += _bracket_change(token)
        if net < 0:
            closed = -net
            while closed > 0 and indents:
                if closed > indents[-1]:
                    closed -= indents.pop()
                elif closed < indents[-1]:
                    indents[-1] -= closed
                    closed = 0
                else:
                    indents.pop()
                    closed = 0
        line.lead[0].spaces = 2 * len(indents)
        if net > 0:
            indents.append(net)


_NIL = Token("NIL", "", -1)
_NO_SPACE_AROUND_MINUS = {"NIL", "OPAREN", "OBRACE", "OBRACK", "EQUAL", "COLON", "COMMA", "QUESTION", "PLUS", "STAR",
                          "SLASH", "PERCENT", "MINUS", "EQ_OP", "NE", "GT", "GE", "LT", "LE", "AND", "OR", "BANG"}


def _space_after(subject: Token, before: Token, after: Token) -> bool:
    """hclwrite's spaceAfterToken: whether ``after`` gets one space before it."""
    s, a = subject.type, after.type
    if a in ("NEWLINE", "NIL"):
        return False
    if s == "IDENT" and a == "OPAREN":
        return False
    if (s == "IDENT" and a == "DCOLON") or (s == "DCOLON" and a == "IDENT"):
        return False
    if s == "DOT" or a == "DOT":
        return False
    if a in ("COMMA", "ELLIPSIS"):
        return False
    if s == "COMMA":
        return True
    if s in ("QUOTED_LIT", "STRING_LIT", "OQUOTE", "OHEREDOC") or a in ("QUOTED_LIT", "STRING_LIT", "CQUOTE",
                                                                        "CHEREDOC"):
        return False
    if s == "IDENT" and subject.text == "in" and before.type == "IDENT":
        return True
    if a == "OBRACK" and (s in ("IDENT", "NUMBER") or _bracket_change(subject) < 0):
        return False
    if s == "BANG":
        return False
    if s == "MINUS":
        return before.type not in _NO_SPACE_AROUND_MINUS
    if s == "OBRACE" or a == "CBRACE":
        return not (s == "OBRACE" and a == "CBRACE")
    if s in ("INTERP", "CONTROL") and a == "OBRACE":
        return True
    if s == "CBRACE" and a == "SEQ_END":
        return True
    if s == "SEQ_END" and a in ("INTERP", "CONTROL"):
        return False
    if _bracket_change(subject) > 0:
        return False
    if _bracket_change(after) < 0:
        return False
    return True


def _spaces(lines: list[_Line]) -> None:
    for line in lines:
        for cell, first in ((line.lead, False), (line.assign or [], True)):
            for index, token in enumerate(cell):
                if first and index == 0:
                    token.spaces = 1
                if index == len(cell) - 1:
                    continue
                before = cell[index - 1] if index > 0 else _NIL
                cell[index + 1].spaces = 1 if _space_after(token, before, cell[index + 1]) else 0


def _columns(tokens: list[Token]) -> int:
    return sum(token.spaces + _graphemes(token.text) for token in tokens)


def _graphemes(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")
    count = 0
    previous = ""
    for char in text:
        if previous == "\r" and char == "\n":
            continue
        if not (unicodedata.combining(char) or char in "\u200d\ufe0f\ufe0e"
                or unicodedata.category(char) in ("Mn", "Me")):
            count += 1
        previous = char
    return count


def _cells(lines: list[_Line]) -> None:
    def align(chain: list[_Line], width: int, cell: str) -> None:
        for line in chain:
            if cell == "assign":
                line.assign[0].spaces = width - _columns(line.lead) + 1  # type: ignore[index]
            else:
                line.comment[0].spaces = width - _columns(line.lead) - _columns(line.assign or []) + 1  # type: ignore[index]

    for cell in ("assign", "comment"):
        chain: list[_Line] = []
        width = 0
        for line in lines:
            if getattr(line, cell) is None:
                if chain:
                    align(chain, width, cell)
                chain, width = [], 0
                continue
            chain.append(line)
            columns = _columns(line.lead) + (_columns(line.assign or []) if cell == "comment" else 0)
            width = max(width, columns)
        if chain:
            align(chain, width, cell)


def _layout(tokens: list[Token]) -> None:
    lines = _lines(tokens)
    _indent(lines)
    _spaces(lines)
    _cells(lines)


# ---------------------------------------------------------------- the whole


def _signature(tokens: list[Token]) -> list[tuple[str, str]]:
    return [(t.type, t.text) for t in tokens]


def format_hcl_text(text: str) -> str:
    """``text`` as ``terraform fmt`` writes it; :class:`HclFormatError` (with line and column) if it is not HCL."""
    if text.startswith("\ufeff"):
        text = text[1:]
    tokens = tokenize(text)
    parser = _Parser(tokens, text)
    parser.parse_file()
    tokens = _rewrite(tokens, parser)
    _layout(tokens)
    result = "".join(" " * token.spaces + token.text for token in tokens)
    if _signature(tokenize(result)) != _signature(tokens):
        raise HclFormatError("the layout cannot be normalized without changing a token; the file was left as it is")
    return result

"""Lexer for the Go text/template language: text and `{{ ... }}` actions
(custom delimiters, `{{- -}}` trim markers, `{{/* */}}` comments) into
tokens with 1-based line and column. Never interprets what it reads.

Trim markers follow Go: `{{- ` needs whitespace after the dash (`{{-3}}` is
the number -3) and trims every space, tab, CR and newline before the action;
` -}}` trims the same after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import TemplateError

SPACE_CHARS = " \t\r\n"
KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)


class Tok(Enum):
    TEXT = "text"
    LEFT = "left delim"
    RIGHT = "right delim"
    SPACE = "space"
    IDENT = "identifier"
    KEYWORD = "keyword"
    FIELD = "field"
    VARIABLE = "variable"
    DOT = "."
    STRING = "string"
    RAW_STRING = "raw string"
    CHAR = "character constant"
    NUMBER = "number"
    BOOL = "bool"
    NIL = "nil"
    PIPE = "|"
    LPAREN = "("
    RPAREN = ")"
    DECLARE = ":="
    ASSIGN = "="
    COMMA = ","
    COMMENT = "comment"
    EOF = "EOF"


@dataclass(frozen=True)
class Token:
    typ: Tok
    value: str
    line: int
    col: int

    def describe(self) -> str:
        if self.typ in (Tok.EOF, Tok.RIGHT, Tok.LEFT, Tok.SPACE):
            return self.typ.value
        return f"<{self.value}>"


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


class Lexer:
    def __init__(self, name: str, text: str, left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.text = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.pos = 0
        self.tokens: list[Token] = []
        self._paren = 0

    # ---- positions ---------------------------------------------------

    def where(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        start = self.text.rfind("\n", 0, pos) + 1
        return line, pos - start + 1

    def error(self, msg: str, pos: int | None = None) -> TemplateError:
        line, col = self.where(self.pos if pos is None else pos)
        return TemplateError(msg, self.name, line, col)

    def emit(self, typ: Tok, value: str, start: int) -> None:
        line, col = self.where(start)
        self.tokens.append(Token(typ, value, line, col))

    # ---- text ---------------------------------------------------------

    def run(self) -> list[Token]:
        text = self.text
        trim_next = False
        while self.pos < len(text):
            nxt = text.find(self.left, self.pos)
            end = len(text) if nxt < 0 else nxt
            chunk = text[self.pos : end]
            start = self.pos
            if trim_next:
                stripped = chunk.lstrip(SPACE_CHARS)
                start += len(chunk) - len(stripped)
                chunk = stripped
                trim_next = False
            if nxt >= 0 and self._left_trim(nxt):
                chunk = chunk.rstrip(SPACE_CHARS)
            if chunk:
                self.emit(Tok.TEXT, chunk, start)
            if nxt < 0:
                self.pos = len(text)
                break
            self.pos = nxt
            trim_next = self._action()
        self.emit(Tok.EOF, "", self.pos)
        return self.tokens

    def _left_trim(self, at: int) -> bool:
        after = at + len(self.left)
        return (
            self.text.startswith("-", after)
            and after + 1 < len(self.text)
            and self.text[after + 1] in SPACE_CHARS
        )

    def _right_trim_here(self) -> bool:
        """At ` -}}` (whitespace, dash, right delimiter)."""
        t = self.text
        return (
            self.pos < len(t)
            and t[self.pos] in SPACE_CHARS
            and t.startswith("-" + self.right, self.pos + 1)
        )

    # ---- actions -----------------------------------------------------

    def _action(self) -> bool:
        """Lex one action starting at the left delimiter; True when it ends
        with a trim marker (the following text loses its leading space)."""
        start = self.pos
        self.pos += len(self.left)
        if self._left_trim(start):
            self.pos += 2
        if self.text.startswith("/*", self.pos):
            return self._comment(start)
        self.emit(Tok.LEFT, self.left, start)
        self._paren = 0
        while True:
            if self._right_trim_here():
                self.emit(Tok.RIGHT, self.right, self.pos)
                self.pos += 2 + len(self.right)
                return True
            if self.text.startswith(self.right, self.pos):
                if self._paren:
                    raise self.error("unclosed left paren")
                self.emit(Tok.RIGHT, self.right, self.pos)
                self.pos += len(self.right)
                return False
            if self.pos >= len(self.text):
                raise self.error("unclosed action", start)
            self._inside()

    def _comment(self, start: int) -> bool:
        close = self.text.find("*/", self.pos + 2)
        if close < 0:
            raise self.error("unclosed comment", start)
        self.pos = close + 2
        if self._right_trim_here():
            self.pos += 2 + len(self.right)
            return True
        if not self.text.startswith(self.right, self.pos):
            raise self.error("comment ends before closing delimiter")
        self.pos += len(self.right)
        return False

    def _inside(self) -> None:
        t = self.text
        start = self.pos
        ch = t[start]
        if ch in SPACE_CHARS:
            while self.pos < len(t) and t[self.pos] in SPACE_CHARS:
                if self._right_trim_here():
                    break
                self.pos += 1
            if self.pos > start:
                self.emit(Tok.SPACE, t[start : self.pos], start)
            return
        two = t[start : start + 2]
        if two == ":=":
            self.pos += 2
            self.emit(Tok.DECLARE, two, start)
            return
        simple = {"=": Tok.ASSIGN, "|": Tok.PIPE, ",": Tok.COMMA}
        if ch in simple:
            self.pos += 1
            self.emit(simple[ch], ch, start)
            return
        if ch == "(":
            self._paren += 1
            self.pos += 1
            self.emit(Tok.LPAREN, ch, start)
            return
        if ch == ")":
            self._paren -= 1
            if self._paren < 0:
                raise self.error("unexpected right paren")
            self.pos += 1
            self.emit(Tok.RPAREN, ch, start)
            return
        if ch == '"':
            self._quoted('"', Tok.STRING, "unterminated quoted string")
            return
        if ch == "`":
            end = t.find("`", start + 1)
            if end < 0:
                raise self.error("unterminated raw quoted string")
            self.pos = end + 1
            self.emit(Tok.RAW_STRING, t[start : self.pos], start)
            return
        if ch == "'":
            self._quoted("'", Tok.CHAR, "unterminated character constant")
            return
        if ch == "$":
            self.pos += 1
            self._word()
            self.emit(Tok.VARIABLE, t[start : self.pos], start)
            return
        if ch == "." and not (start + 1 < len(t) and t[start + 1].isdigit()):
            self.pos += 1
            if self.pos < len(t) and _is_alnum(t[self.pos]):
                self._word()
                self.emit(Tok.FIELD, t[start : self.pos], start)
            else:
                self.emit(Tok.DOT, ".", start)
            return
        if ch in "+-." or ch.isdigit():
            self._number()
            return
        if _is_alnum(ch):
            self._word()
            word = t[start : self.pos]
            if word in KEYWORDS:
                self.emit(Tok.KEYWORD, word, start)
            elif word in ("true", "false"):
                self.emit(Tok.BOOL, word, start)
            elif word == "nil":
                self.emit(Tok.NIL, word, start)
            else:
                self.emit(Tok.IDENT, word, start)
            return
        raise self.error(f"unexpected {ch!r} in command")

    def _word(self) -> None:
        t = self.text
        while self.pos < len(t) and _is_alnum(t[self.pos]):
            self.pos += 1

    def _quoted(self, quote: str, typ: Tok, unterminated: str) -> None:
        t = self.text
        start = self.pos
        i = start + 1
        while True:
            if i >= len(t) or t[i] == "\n":
                raise self.error(unterminated, start)
            if t[i] == "\\":
                i += 2
                continue
            if t[i] == quote:
                break
            i += 1
        self.pos = i + 1
        self.emit(typ, t[start : self.pos], start)

    def _number(self) -> None:
        t = self.text
        start = self.pos
        if t[self.pos] in "+-":
            self.pos += 1
        digits = "0123456789_"
        if t.startswith(("0x", "0X"), self.pos):
            self.pos += 2
            digits = "0123456789abcdefABCDEF_"
        elif t.startswith(("0o", "0O", "0b", "0B"), self.pos):
            self.pos += 2
        while self.pos < len(t) and t[self.pos] in digits:
            self.pos += 1
        if self.pos < len(t) and t[self.pos] == ".":
            self.pos += 1
            while self.pos < len(t) and t[self.pos] in digits:
                self.pos += 1
        if self.pos < len(t) and t[self.pos] in "eEpP":
            self.pos += 1
            if self.pos < len(t) and t[self.pos] in "+-":
                self.pos += 1
            while self.pos < len(t) and t[self.pos] in "0123456789_":
                self.pos += 1
        if self.pos < len(t) and t[self.pos] == "i":
            self.pos += 1
        if self.pos < len(t) and _is_alnum(t[self.pos]):
            self._word()
            raise self.error(f"bad number syntax: {t[start : self.pos]!r}", start)
        self.emit(Tok.NUMBER, t[start : self.pos], start)


def lex(name: str, text: str, left: str = "{{", right: str = "}}") -> list[Token]:
    return Lexer(name, text, left, right).run()

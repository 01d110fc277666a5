"""Parsing: the cached LALR parser and syntax errors as P001 diagnostics.

The grammar lives in `grammar/protocol.lark` (packaged as `compiler/grammar/` in the
wheel). The parser is built once per process (and cached on disk, see Start-up). A syntax
error does not stop the parse: the offending line (and its indented block) is blanked
out and the file re-parsed, so one run reports every broken line and the rest of the
sheet is still checked.

Positions: instead of Lark's `propagate_positions` (a Meta object and a chain of three
wrapper calls per reduction, a third of the parse), each rule gets one callback that
filters the children, builds a `Node` and records the same offsets Lark would
(`Node.span_start`/`span_end`; `start_pos`/`end_pos` are Lark's "container" offsets,
which include tokens the tree drops, such as `(`, `:` and line ends). Trees, spans and
every output are identical; tests/test_parse_backends.py compares them with Lark's own.

Backends: when `lark-cython` is installed, its LALR loop runs Lark's tables and builds the
same trees with the same callbacks; its tokens come from `_tokens`, one generator per
parse that lexes as lark-cython's contextual lexer would and adds the Indenter's tokens
(lark-cython takes no post-lexer), without a Python call per token. The pure Python Lark
parser is the reference: it parses when lark-cython is missing or PROTOCOLC_PARSER=pure,
and every input the accelerated parser refuses is parsed again by it, so syntax errors
(P001, friendly messages, positions, recovery) are exactly those of the pure parser.

Start-up: the accelerated parser is built from a plain copy of the terminals, rules and
LALR table kept in the cache folder (`accelerated()`), without building a Lark object;
each state's lexer is made when a parse first reaches the state (`_StateLexers`), and
its scanner is rebuilt from the code kept in the same cache instead of being compiled
again (`compiler.regex_code`: compiling them was most of what a first parse cost).

Scanning: a scanner is one alternation of the state's terminals, tried one by one at
every token; the cache also keeps, for each scanner, which terminals can start with
each character (`regex_code.dispatch_table`), and the scanner matches with the smaller
alternation of those (in the same order: the same first match, the same token).
"""

from __future__ import annotations

import copy
import functools
import operator
import os
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lark import Lark, Token, Tree
from lark.common import LexerConf
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.grammar import NonTerminal, Rule, RuleOptions, Symbol, Terminal
from lark.indenter import DedentError, Indenter
from lark.lexer import Pattern, PatternRE, PatternStr, TerminalDef, _create_unless, _regexp_has_newline
from lark.parsers.lalr_analysis import IntParseTable, Reduce, Shift

from compiler import regex_code
from compiler.regex_code import Dispatch, Entry, KeptPatterns, Recorder
from compiler.source import SourceFile, SourceProblem, Span

MAX_ERRORS = 20
PARSER_ENV = "PROTOCOLC_PARSER"  # "pure": never use the lark-cython parser


class ProtocolIndenter(Indenter):
    """Turns indentation into _INDENT/_DEDENT tokens (spaces only, checked in `source`)."""

    NL_type = "_NL"
    OPEN_PAREN_types: list[str] = []  # noqa: RUF012 (Lark reads these class attributes)
    CLOSE_PAREN_types: list[str] = []  # noqa: RUF012
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


def grammar_path() -> Path:
    """The packaged grammar (wheel), or the repository's `grammar/` (source checkout)."""
    here = Path(__file__).resolve().parent
    packaged = here / "grammar" / "protocol.lark"
    if packaged.exists():
        return packaged
    return here.parent / "grammar" / "protocol.lark"


class Node(Tree[Token]):
    """A parse tree node with its source offsets, as Lark's `propagate_positions` gives them.

    `span_start`/`span_end` are the node's own offsets (None for a node that covers no
    token); `start_pos`/`end_pos` also cover the tokens around a node that a `?rule`
    inlined (the parentheses of `(A or B)`), and are what the parent node's offsets are
    taken from, as for a token.
    """

    __slots__ = ("_meta", "children", "data", "end_pos", "span_end", "span_start", "start_pos")
    start_pos: int | None
    span_start: int | None
    end_pos: int | None
    span_end: int | None

    # Made by the rule callbacks, which set every field: `Node()` is object's constructor, in C and
    # without the argument tuples of `object.__new__(Node)` (a Python `__init__` would be a Python call).
    if TYPE_CHECKING:
        def __init__(self) -> None: ...
    else:
        __init__ = object.__init__

    def copy(self) -> Node:
        """A shallow copy (Lark's `Tree.copy` calls the constructor with the data and children)."""
        return _copy_node(self, self.children)

    def __deepcopy__(self, memo: dict[int, Any]) -> Node:
        return _copy_node(self, copy.deepcopy(self.children, memo))


def _copy_node(node: Node, children: list[Any]) -> Node:
    new = Node()
    new.data, new.children, new._meta = node.data, children, node._meta
    new.start_pos, new.span_start, new.end_pos, new.span_end = node.start_pos, node.span_start, node.end_pos, node.span_end
    return new


def _first_start(children: Sequence[Any]) -> int | None:
    for child in children:
        if child.start_pos is not None:
            return int(child.start_pos)
    return None


def _last_end(children: Sequence[Any]) -> int | None:
    for child in reversed(children):
        if child.end_pos is not None:
            return int(child.end_pos)
    return None


def _inline_single(only: Node, children: list[Any]) -> None:
    """A `?rule` that passes its one child up: the tokens it drops widen the child's container."""
    start, end = _first_start(children), _last_end(children)
    if start is not None:
        if only.span_start is None:
            only.span_start = start
        only.start_pos = start
    if end is not None:
        if only.span_end is None:
            only.span_end = end
        only.end_pos = end


def _rule_callback(name: str, include: list[tuple[int, bool]] | None, expand1: bool,
                   size: int = 0) -> Callable[[list[Any]], Any]:
    """Lark's ChildFilterLALR_NoPlaceholders + ExpandSingleChild + PropagatePositions + Tree in one call.

    `include` lists the kept children (index, inline a `_rule`'s children); None keeps all.
    `size` is the number of symbols the rule reduces. One callback, chosen per rule: the
    parser calls one per reduction (~400 a sheet).
    """
    if include is None and expand1 and size == 1:
        return operator.itemgetter(0)  # `?a: b` passes its one child up: in C, without a Python call
    if include is None:
        def keep_all(children: list[Any]) -> Any:  # the commonest: `_node`, inlined
            if expand1 and len(children) == 1:
                return children[0]
            node = Node()
            node.data = name
            node.children = children
            node._meta = None
            if children:
                start = children[0].start_pos
                end = children[-1].end_pos
                node.start_pos = node.span_start = _first_start(children) if start is None else start
                node.end_pos = node.span_end = _last_end(children) if end is None else end
            else:
                node.start_pos = node.span_start = node.end_pos = node.span_end = None
            return node

        return keep_all
    if include and not any(inline for _, inline in include):
        if len(include) == 1:
            index = include[0][0]

            def keep_one(children: list[Any]) -> Any:
                only = children[index]
                if expand1:
                    if len(children) > 1 and type(only) is Node:
                        _inline_single(only, children)
                    return only
                return _node(Node(), name, [only], children)

            return keep_one
        pick = operator.itemgetter(*[index for index, _ in include])

        def keep_some(children: list[Any]) -> Any:
            return _node(Node(), name, list(pick(children)), children)

        return keep_some

    def build(children: list[Any]) -> Any:
        kept: list[Any] = []
        reused = None
        for index, inline in include:
            if inline:
                if kept:
                    kept += children[index].children
                else:  # left recursion (`x+`): extend the inner list, as Lark does
                    reused = children[index]
                    kept = reused.children
            else:
                kept.append(children[index])
        if expand1 and len(kept) == 1:
            only = kept[0]
            if len(children) > 1 and type(only) is Node:
                _inline_single(only, children)
            return only
        # the node whose list the kept children extend is dropped from the tree: it becomes the new node
        return _node(Node() if reused is None else reused, name, kept, children)

    return build


def _node(node: Node, name: str, kept: list[Any], children: list[Any]) -> Node:
    """`node` made the node of the kept children, its offsets from all the children (the dropped tokens too)."""
    node.data = name
    node.children = kept
    node._meta = None
    if children:
        start = children[0].start_pos
        end = children[-1].end_pos
        node.start_pos = node.span_start = _first_start(children) if start is None else start
        node.end_pos = node.span_end = _last_end(children) if end is None else end
    else:
        node.start_pos = node.span_start = node.end_pos = node.span_end = None
    return node


def _install_callbacks(lark: Lark) -> bool:
    """Replace Lark's tree-building callbacks (built without positions) by `_rule_callback`s.

    False when this Lark does not keep its callbacks where the LALR parser reads them
    (another Lark version): the caller then keeps Lark's own `propagate_positions`.
    """
    found: Any = getattr(lark, "_callbacks", None)
    frontend = getattr(getattr(lark, "parser", None), "parser", None)
    if not isinstance(found, dict) or getattr(getattr(frontend, "parser", None), "callbacks", None) is not found:
        return False
    _set_rule_callbacks(lark, cast("dict[Any, Any]", found))
    return True


def _set_rule_callbacks(lark: Lark, callbacks: dict[Any, Any]) -> None:
    built: list[tuple[Rule, Callable[[list[Any]], Any]]] = []
    for rule in lark.rules:
        keep_all = rule.options.keep_all_tokens
        include = [(index, not symbol.is_term and symbol.name.startswith("_"))
                   for index, symbol in enumerate(rule.expansion)
                   if keep_all or not (symbol.is_term and getattr(symbol, "filter_out", False))]
        filtered = len(include) < len(rule.expansion) or any(inline for _, inline in include)
        name = rule.alias or rule.options.template_source or rule.origin.name
        built.append((rule, _rule_callback(str(name), include if filtered else None,
                                           bool(rule.options.expand1 and not rule.alias), len(rule.expansion))))
    for key in [key for key in callbacks if isinstance(key, Rule)]:
        del callbacks[key]  # in place (the parser holds this dict); an equal older key would stay otherwise
    _compare_rules_by_identity(lark)
    callbacks.update(built)


class _IdentityRule(Rule):
    """A grammar rule hashed and compared by identity, in C (both parsers' rules).

    Lark's LALR loop (and lark-cython's) tests `assert arg != end_state` for every action and looks the
    reduced rule up in the callbacks; with `Rule.__eq__`/`__hash__` in Python that was two
    Python calls per reduction. The pure parser parses every sheet with a syntax error, up
    to once per error (recovery), and every sheet when lark-cython is missing. Each rule is
    one object shared by the parse table and the callbacks, so identity is the same test.
    """

    __slots__ = ()
    __hash__ = object.__hash__
    __eq__ = object.__eq__


def _compare_rules_by_identity(lark: Lark) -> None:
    """Make `lark.rules` `_IdentityRule`s when the parse table reduces by those very objects."""
    table: Any = getattr(getattr(getattr(lark, "parser", None), "parser", None), "_parse_table", None)
    states = getattr(table, "states", None)
    if not isinstance(states, dict):
        return
    own = {id(rule) for rule in lark.rules}
    if not all(id(arg) in own for actions in states.values() for action, arg in actions.values() if action is Reduce):
        return  # the table holds copies: equality, not identity, finds their callbacks
    for rule in lark.rules:
        if type(rule) is Rule:
            rule.__class__ = _IdentityRule


def _lark(propagate_positions: bool) -> Lark:
    path = grammar_path()
    return Lark.open(
        path.name,
        rel_to=str(path),
        parser="lalr",
        lexer="contextual",
        postlex=ProtocolIndenter(),
        propagate_positions=propagate_positions,
        maybe_placeholders=False,
        cache=True,
    )


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The pure Python LALR parser, built once (Lark also caches the tables on disk); its trees are `Node`s.

    It is the reference: it reports every syntax error, and parses when the accelerated
    parser is not installed or is switched off (PROTOCOLC_PARSER=pure).
    """
    lark = _lark(propagate_positions=False)
    return lark if _install_callbacks(lark) else _lark(propagate_positions=True)


class _Unsupported(Exception):
    """Input the accelerated parser leaves to the pure one."""


# What the token loop does with a match of a terminal (bits of `_Scanner.codes`, by group number)
_IGNORED = 1  # skipped (%ignore)
_NEWLINES = 2  # may hold line ends: the line count moves (Lark's `newline_types`)
_KEPT = 4  # a rule keeps it: a Lark `Token` in the tree
_UNLESS = 8  # a string terminal it also matches takes its place (Lark's `UnlessCallback`)
_LINE_END = 16  # `_NL`: the Indenter's _INDENT/_DEDENT tokens follow it


BLANKS = "[ \t]+"  # the grammar's WS


class _Undispatched:
    """A scanner without a dispatch table, as `_Dispatch` is used by the token loop."""

    __slots__ = ("pattern", "table")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.table: dict[str, Any] = {}

    def for_char(self, char: str) -> re.Pattern[str]:
        self.table[char] = self.pattern
        return self.pattern


class _Scanner:
    """What lark-cython's `BasicLexer` of a terminal set does, as tables for the token loop (`_tokens`).

    The same terminals in the same order (the lexer's sort), the same `_create_unless`
    folding of string terminals into the expressions that match them, the same
    alternation (its scanner's very text: its code and dispatch table come from the cache).
    """

    __slots__ = ("blanks", "codes", "dispatch", "names", "row", "table", "unless")

    def __init__(self, terminals: list[TerminalDef], conf: LexerConf, kept: frozenset[str]) -> None:
        terminals = sorted(terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
        newline_types = {t.name for t in terminals if _regexp_has_newline(t.pattern.to_regexp())}
        remaining, callbacks = cast("Any", _create_unless)(terminals, conf.g_regex_flags, conf.re_module,
                                                           conf.use_bytes)
        pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in remaining)
        compiled: Any = conf.re_module.compile(pattern, conf.g_regex_flags)
        self.dispatch: Any = compiled if isinstance(compiled, regex_code._Dispatch) else _Undispatched(compiled)
        self.table: dict[str, Any] = self.dispatch.table
        groups: dict[str, int] = dict(compiled.groupindex)
        self.names: list[str | None] = [None] * (max(groups.values(), default=0) + 1)
        self.codes = [0] * len(self.names)
        ignore = frozenset(conf.ignore)
        for name, number in groups.items():
            self.names[number] = name
            self.codes[number] = ((_IGNORED if name in ignore else 0) | (_NEWLINES if name in newline_types else 0)
                                  | _code(name, kept) | (_UNLESS if name in callbacks else 0))
        self.unless: dict[str, Any] = {name: callback.scanner for name, callback in callbacks.items()}
        # The first alternative wins: when it is an ignored `[ \t]+`, a blank starts a match of it, which
        # ends where the blanks end; the token loop skips them without matching.
        first = remaining[0] if remaining else None
        blanks = (first is not None and isinstance(first.pattern, PatternRE) and first.pattern.value == BLANKS
                  and not first.pattern.flags and self.names[1] == first.name and self.codes[1] == _IGNORED)
        self.blanks = " \t" if blanks else ""
        # what the token loop reads of the scanner at every token, in one tuple (one unpacking)
        self.row: tuple[dict[str, Any], list[int], list[str | None], str, _Scanner] = (
            self.table, self.codes, self.names, self.blanks, self)


def _code(name: str, kept: frozenset[str]) -> int:
    """How a token of this type is handed to the parser."""
    return (_KEPT if name in kept else 0) | (_LINE_END if name == ProtocolIndenter.NL_type else 0)


class _TokenSource:
    """What lark-cython's parser loop asks for tokens: `next_token(parser_state)`."""

    __slots__ = ("next_token",)

    def __init__(self, next_token: Callable[[Any], Any]) -> None:
        self.next_token = next_token


def _tokens(text: str, lexers: _StateLexers) -> Generator[Any, Any, None]:
    """The tokens of `text`, each for the parser state sent in: lark-cython's contextual lexer and
    Lark's Indenter (the `_INDENT`/`_DEDENT` tokens after a line end) in one loop.

    The parser resumes this generator for each token (`send`): no Python call, and its
    state stays in local variables. A kept token is a Lark `Token` made here, handed over
    in the `end_line` of one lark-cython token reused for all of them (`carrier`), which the
    parser only reads the type of and turns into the Lark token with the shift callback
    (`_from_carrier`); the others are lark-cython tokens the rule callbacks read offsets of.
    Anything this loop does not handle exactly as Lark would (no match, a dedent to no open
    block) raises, and the pure parser parses the text instead. tests/test_parse_tokens.py
    compares every token and node with the pure parser's.
    """
    rows = lexers.rows
    make = lexers.scanner
    kept = lexers.kept
    small = lexers.module.Token
    carrier = small("", "")
    new, lark_token = str.__new__, Token
    # the flags as local variables (the loop runs for every token)
    ignored, newlines, keep, unless, line_end = _IGNORED, _NEWLINES, _KEPT, _UNLESS, _LINE_END
    tab_len = ProtocolIndenter.tab_len
    size = len(text)
    pos = line_start = 0
    line = 1
    levels = [0]
    parser_state = yield None
    while True:
        table, codes, names, blanks, scanner = rows[parser_state.position] or make(parser_state.position).row
        while True:
            if pos >= size:
                if len(levels) > 1:  # never after the final line end parse() adds; leave it to the pure parser
                    raise _Unsupported
                raise EOFError
            char = text[pos]
            if char in blanks:  # the ignored blanks, skipped without a match (see `_Scanner.blanks`)
                pos += 1
                while pos < size and text[pos] in blanks:
                    pos += 1
                continue
            try:
                match = table[char].match(text, pos)
            except KeyError:  # a character this scanner meets for the first time
                match = scanner.dispatch.for_char(char).match(text, pos)
            if match is None:
                raise _Unsupported
            index = match.lastindex
            code = codes[index]
            if not code & ignored:
                break
            if code & newlines:
                value = match[0]  # a subscript: cheaper than the `group()` method call
                count = value.count("\n")
                if count:
                    line += count
                    line_start = pos + value.rindex("\n") + 1
            pos = match.end()
        value = match[0]
        end = pos + len(value)  # the match starts at `pos`: cheaper than the `end()` method call
        name = names[index]
        if code & unless:
            found = scanner.unless[name].fullmatch(value)
            if found is not None:
                name = found
                code = _code(name, kept) | (code & newlines)
        if code & keep:
            token = new(lark_token, value)
            token.type = name
            token.value = value
            token.start_pos = pos
            token.line = line
            token.column = pos - line_start + 1
            if code & newlines and "\n" in value:
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            token.end_line = line
            token.end_column = end - line_start + 1
            token.end_pos = end
            carrier.type = name
            carrier.end_line = token
            pos = end
            parser_state = yield carrier
            continue
        first_line, column = line, pos - line_start + 1
        if code & newlines and "\n" in value:
            line += value.count("\n")
            line_start = pos + value.rindex("\n") + 1
        token = small(name, value, pos, first_line, column, line, end - line_start + 1, end)
        if not code & line_end:
            pos = end
            parser_state = yield token
            continue
        # a line end holds a newline (`_NL` is one of `newlines`): its last line starts at `line_start`
        indent_str = value[line_start - pos:]
        pos = end
        indent = indent_str.count(" ") + (indent_str.count("\t") * tab_len if "\t" in indent_str else 0)
        after = 0
        if indent > levels[-1]:
            levels.append(indent)
            after = -1
        elif indent < levels[-1]:
            while indent < levels[-1]:
                levels.pop()
                after += 1
            if indent != levels[-1]:
                raise DedentError(f"Unexpected dedent to column {indent}. Expected dedent to {levels[-1]}")
        parser_state = yield token
        # The Indenter's tokens have the line end's offsets, which are all the rule callbacks read of a
        # dropped token, and the parser has read the line end's type by now: the same object carries them.
        if after < 0:
            token.type = ProtocolIndenter.INDENT_type
            parser_state = yield token
        if after > 0:
            token.type = ProtocolIndenter.DEDENT_type
            while after > 0:
                after -= 1
                parser_state = yield token


# the shift callback of a kept terminal: the Lark token `_tokens` handed over in the carrier
_from_carrier = operator.attrgetter("end_line")


class _StateLexers:
    """The scanner of each parser state for the token loop (`scanner`), made when a parse first
    reaches the state; and lark-cython's own lexer of each state (`lark_lexer`), which the tests
    compare `_Scanner` with (`scanner_code` compiles the scanners with such lexers).

    lark-cython's `ContextualLexer` builds a lexer for every state up front (545 states,
    154 terminal sets); a sheet reaches a third of them. A lexer is shared by the states
    that accept the same terminals, as there; its scanner (one regular expression) is
    compiled on first use, as there. The tokens are the same: each is the first match in
    Lark's order among the terminals the state accepts, the ignored ones and `_NL`.
    """

    def __init__(self, module: Any, conf: LexerConf, accepts: dict[int, frozenset[str]],
                 kept: frozenset[str] = frozenset()) -> None:
        self.module = module
        self.conf = conf
        self.accepts = accepts
        self.kept = kept
        self.shared: dict[frozenset[str], Any] = {}
        self.extra = frozenset(conf.ignore) | {ProtocolIndenter.NL_type}
        # what the token loop reads of each state's scanner (its `row`; a list: read for every token), made
        # when first needed
        self.rows: list[tuple[dict[str, Any], list[int], list[str | None], str, _Scanner] | None] = [
            None] * (max(accepts, default=0) + 1)
        self.scanners: dict[frozenset[str], _Scanner] = {}

    def scanner(self, state: int) -> _Scanner:
        """The scanner of a parser state (shared by the states that accept the same terminals)."""
        key = self.accepts[state] | self.extra
        found = self.scanners.get(key)
        if found is None:
            found = self.scanners[key] = _Scanner([t for t in self.conf.terminals if t.name in key], self.conf,
                                                  self.kept)
        self.rows[state] = found.row
        return found

    def lark_lexer(self, state: int) -> Any:
        """lark-cython's `BasicLexer` of a parser state (shared by the states that accept the same terminals)."""
        key = self.accepts[state] | self.extra
        lexer = self.shared.get(key)
        if lexer is None:
            lexer = self.shared[key] = self._lexer(key, self.conf)
        return lexer

    def _lexer(self, key: frozenset[str], conf: LexerConf) -> Any:
        conf = copy.copy(conf)
        conf.terminals = [t for t in conf.terminals if t.name in key]
        return self.module.BasicLexer(conf)

    def scanner_code(self) -> tuple[dict[tuple[str, int], Entry], dict[tuple[str, int], Dispatch]]:
        """The code of every state's scanner and its dispatch table on the first character (for the
        cache): compiled here once, so that a later process builds each scanner it needs from its
        code (see `compiler.regex_code`).
        """
        recorder = Recorder()
        conf = copy.copy(self.conf)
        conf.re_module = cast("Any", recorder)
        chars = regex_code.alphabet([str(t.pattern.to_regexp()) for t in conf.terminals])  # one for all the scanners
        for key in sorted({accepts | self.extra for accepts in self.accepts.values()}, key=sorted):
            scanner = self._lexer(key, conf).scanner  # building the scanner compiles its expression
            recorder.record_dispatch([(str(t.name), str(t.pattern.to_regexp())) for t in scanner.terminals],
                                     int(conf.g_regex_flags), chars)
        return recorder.kept, recorder.dispatch


class _Accelerated:
    """Lark's LALR tables run by lark-cython's lexer and parser loop, building the same `Node` trees."""

    def __init__(self, module: Any, plain: dict[str, Any]) -> None:
        terminals, rules = _terminals(plain["terminals"]), _rules(plain["rules"])
        # the scanners are built from the code kept with the plain parser (compiled when it is missing)
        kept = KeptPatterns(dict(plain.get("regex") or {}), dict(plain.get("dispatch") or {}))
        conf = LexerConf(terminals, cast("Any", kept),
                         ignore=list(plain["ignore"]), g_regex_flags=int(plain["g_regex_flags"]), skip_validation=True)
        callbacks: dict[Any, Any] = {}
        _set_rule_callbacks(cast("Lark", _RulesOf(rules)), callbacks)
        # a shifted token goes through callbacks[type]: a token a rule keeps becomes a Lark token there
        for name in _kept_terminals(rules):
            callbacks[name] = _from_carrier
        rows: dict[int, tuple[tuple[str, ...], tuple[int, ...]]] = plain["states"]
        # action codes: 2 * state + 0 shifts to the state, 2 * rule + 1 reduces by the rule
        actions: list[tuple[Any, Any]] = [(Shift, 0)] * (2 * max(len(rows), len(rules)))
        actions[0::2] = [(Shift, state) for state in range(len(actions) // 2)]
        actions[1:2 * len(rules):2] = [(Reduce, rule) for rule in rules]
        states = {state: dict(zip(terms, map(actions.__getitem__, codes), strict=True))
                  for state, (terms, codes) in rows.items()}
        table = IntParseTable(states, dict(plain["start"]), dict(plain["end"]))  # type: ignore[no-untyped-call]
        self.parser: Any = module._Parser(table, callbacks)
        # a state's lexer matches the terminals it has an action for (its row also names rules)
        names = frozenset(conf.terminals_by_name)
        self.lexers = _StateLexers(module, conf, {state: names.intersection(terms) for state, (terms, _) in rows.items()},
                                   frozenset(_kept_terminals(rules)))

    def parse(self, text: str) -> Tree[Token]:
        tokens = _tokens(text, self.lexers)
        next(tokens)
        tree: Tree[Token] = self.parser.parse(_TokenSource(tokens.send), "start")
        return tree


class _RulesOf:
    """What `_set_rule_callbacks` reads of a `Lark`: its rules."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules


def _kept_terminals(rules: list[Rule]) -> set[str]:
    """The terminals some rule keeps in its tree; the others (`(`, `:`, line ends) stay lark-cython
    tokens, read only for their offsets.
    """
    return {symbol.name for rule in rules for symbol in rule.expansion
            if symbol.is_term and (rule.options.keep_all_tokens or not getattr(symbol, "filter_out", False))}


# The plain form of the parser (what `_Accelerated` is built from and what the cache holds):
# ints, strings, tuples and dicts only, so `marshal` reads it back without running code.

def _plain(lark: Lark) -> dict[str, Any]:
    """The terminals, rules and LALR table of a `Lark` in plain form."""
    terminals = []
    for terminal in lark.lexer_conf.terminals:
        pattern = terminal.pattern
        width = (pattern.min_width, pattern.max_width) if isinstance(pattern, PatternRE) else None
        terminals.append((str(terminal.name), str(pattern.type), str(pattern.value), tuple(sorted(pattern.flags)),
                          None if pattern.raw is None else str(pattern.raw), width, int(terminal.priority)))
    rules = []
    index: dict[Rule, int] = {}
    for number, rule in enumerate(lark.rules):
        options = rule.options
        rules.append((str(rule.origin.name),
                      tuple((str(s.name), bool(s.is_term), bool(getattr(s, "filter_out", False))) for s in rule.expansion),
                      int(rule.order), None if rule.alias is None else str(rule.alias),
                      (bool(options.keep_all_tokens), bool(options.expand1), options.priority,
                       None if options.template_source is None else str(options.template_source),
                       tuple(bool(x) for x in options.empty_indices))))
        index[rule] = number
    table = lark.parser.parser.parser.parse_table
    states = {int(state): (tuple(str(term) for term in row),
                           tuple(2 * index[arg] + 1 if action is Reduce else 2 * int(arg) for action, arg in row.values()))
              for state, row in table.states.items()}
    return {"terminals": tuple(terminals), "ignore": tuple(str(x) for x in lark.lexer_conf.ignore),
            "g_regex_flags": int(lark.lexer_conf.g_regex_flags), "rules": tuple(rules), "states": states,
            "start": {str(k): int(v) for k, v in table.start_states.items()},
            "end": {str(k): int(v) for k, v in table.end_states.items()}}


def _terminals(plain: Sequence[Any]) -> list[TerminalDef]:
    out = []
    for name, kind, value, flags, raw, width, priority in plain:
        pattern: Pattern
        if kind == "re":
            pattern = PatternRE(value, flags, raw)
            pattern._width = tuple(width)  # measured when the cache was written (Lark's cache keeps it too)
        elif kind == "str":
            pattern = PatternStr(value, flags, raw)
        else:
            raise ValueError(kind)
        out.append(TerminalDef(name, pattern, priority))
    return out


def _rules(plain: Sequence[Any]) -> list[Rule]:
    """The rules, each one object shared by the parse table and the callbacks (compared by identity)."""
    nonterminals: dict[str, NonTerminal] = {}
    terminals: dict[tuple[str, bool], Terminal] = {}

    def nonterminal(name: str) -> NonTerminal:
        found = nonterminals.get(name)
        if found is None:
            found = nonterminals[name] = NonTerminal(name)
        return found

    def terminal(name: str, filter_out: bool) -> Terminal:
        found = terminals.get((name, filter_out))
        if found is None:
            found = terminals[(name, filter_out)] = Terminal(name, filter_out)
        return found

    out: list[Rule] = []
    for origin, expansion, order, alias, (keep_all, expand1, priority, template, empty) in plain:
        symbols: list[Symbol] = [terminal(name, filter_out) if is_term else nonterminal(name)
                                 for name, is_term, filter_out in expansion]
        options = RuleOptions(keep_all, expand1, priority, template, tuple(empty))
        out.append(_IdentityRule(nonterminal(origin), symbols, order, alias, options))
    return out


_CACHE_FORMAT = b"protocolc-parser-3"


def _cache_path(module: Any) -> tuple[Path, bytes]:
    """The cache file of this grammar, Lark, lark-cython, Python and this module, and its key."""
    import hashlib
    import sys

    import lark

    from compiler.cache import default_cache_dir

    # the version is the package's (`module` is its compiled submodule, which has none)
    package = sys.modules.get(module.__name__.partition(".")[0], module)
    digest = hashlib.sha256(_CACHE_FORMAT)
    for part in (grammar_path().read_bytes(), Path(__file__).read_bytes(), Path(regex_code.__file__).read_bytes(),
                 lark.__version__.encode(), str(getattr(package, "__version__", "")).encode(), sys.version.encode(),
                 regex_code.VERSION):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    key = digest.digest()
    return default_cache_dir() / f"parser-{key.hex()[:24]}.marshal", key


def _read_cache(path: Path, key: bytes) -> dict[str, Any] | None:
    """The plain parser from the cache, None when missing, damaged or not this one's."""
    import hashlib
    import marshal

    try:
        with path.open("rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    if raw[:32] != key or hashlib.sha256(raw[64:]).digest() != raw[32:64]:
        return None
    try:
        plain = marshal.loads(raw[64:])
    except Exception:  # a damaged file is a miss, whatever marshal makes of it
        return None
    return plain if isinstance(plain, dict) else None


def _write_cache(path: Path, key: bytes, plain: dict[str, Any]) -> None:
    import hashlib
    import marshal

    from compiler.fsutil import write_atomic

    try:
        payload = marshal.dumps(plain)
        write_atomic(path, key + hashlib.sha256(payload).digest() + payload, private=True)
    except (OSError, ValueError):  # the cache is only an accelerator
        pass


_PROBE = "# s\ndrug x 1 mg po daily\n  query: y\n"


def _working(fast: _Accelerated) -> bool:
    """lark-cython parses a small sheet into `Node`s with Lark tokens (else it does not fit this Lark)."""
    probe = fast.parse(_PROBE)
    first = probe.children[0] if isinstance(probe, Node) else None
    return isinstance(first, Node) and isinstance(first.children[-1], Token)


@functools.lru_cache(maxsize=1)
def accelerated() -> _Accelerated | None:
    """The lark-cython parser when it is installed and not switched off (PROTOCOLC_PARSER=pure), else None.

    It is built from the plain form of the parser kept in the cache folder (written
    0600, replaced atomically, named by the grammar, this module and the versions of
    Lark, lark-cython and Python, checked by a hash); any problem with the cache builds
    it from the pure parser's Lark (which Lark caches itself) and writes the cache again.
    """
    if os.environ.get(PARSER_ENV, "").strip().lower() == "pure":
        return None
    try:
        import lark_cython
    except ImportError:
        return None
    module: Any = getattr(lark_cython, "lark_cython", lark_cython)
    try:
        path, key = _cache_path(module)
    except Exception:  # no cache folder (no home): build it each time
        path, key = None, b""
    if path is not None:
        plain = _read_cache(path, key)
        if plain is not None:
            try:
                fast = _Accelerated(module, plain)
                if _working(fast):
                    return fast
            except Exception:  # a damaged or foreign cache: build it again below
                pass
    try:
        plain = _plain(parser())
        fast = _Accelerated(module, plain)
        if not _working(fast):
            return None
        plain["regex"], plain["dispatch"] = fast.lexers.scanner_code()
        fast = _Accelerated(module, plain)  # its scanners dispatch on the first character, as a later process's
        if not _working(fast):
            return None
    except Exception:  # a lark-cython that does not fit this Lark: the pure parser parses
        return None
    if path is not None:
        _write_cache(path, key, plain)
    return fast


def backend() -> str:
    """The parser in use: "cython" (lark-cython) or "pure" (Lark in Python)."""
    return "cython" if accelerated() is not None else "pure"


def reference_parser() -> Lark:
    """Lark's own tree building with `propagate_positions` (tests compare `parser()` with it)."""
    return _lark(propagate_positions=True)


def offsets(node: Tree[Token]) -> tuple[int, int] | None:
    """The source offsets [start, end) a node covers, None when it covers no token."""
    if isinstance(node, Node):
        if node.span_start is None or node.span_end is None:
            return None
        return node.span_start, node.span_end
    meta = node.meta  # a tree built by Lark with propagate_positions
    if getattr(meta, "empty", True):
        return None
    return meta.start_pos, meta.end_pos


TERMINAL_WORDS: dict[str, str] = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the indented block",
    "UNIT": "a unit such as mg, mg/m2 or mg/kg",
    "ROUTE": "a route such as po, IV, IM or subcut",
    "INT": "a whole number",
    "DECIMAL": "a number",
    "NAKED_DECIMAL": "a number",
    "WORD": "a name",
    "CWORD": "a condition such as HER2+ or PD-L1 TPS",
    "CMP": "a comparison (<, <=, =, >=, >)",
    "GY": "Gy",
    "OAR_ORGAN": "an organ followed by Dmax, Dmean or V<dose> (`constraint long V20 < 35%`)",
    "OAR_METRIC": "Dmax, Dmean or V<dose> such as V20",
    "TIMES": "x (as in 5 x 4 Gy)",
    "STRING": 'a quoted text ("…")',
    "CODE": "a rule code such as D012",
    "THEN": "then",
    "PERIOD": "days, weeks, months or years",
    "MINUTES": "min",
    "PER_WEEK": "/week",
    "AUC": "AUC",
    "LPAR": "(",
    "RPAR": ")",
    "COLON": ":",
    "SLASH": "/",
    "PERCENT": "%",
    "EVERY": "every",
    "DAILY": "daily",
    "DAYS": "days",
    "INFUSION": "infusion",
    "MAX": "max",
    "UNTIL": "until",
    "USE": "a use such as for antiemetic, for premedication or with radiotherapy",
    "TIME_OF_DAY": "a time of day such as in the evening or before chemotherapy",
    "FORM": "a form such as tablet or syrup",
    "N_CYCLES": "a number of cycles (6 cycles)",
    "TARGET": "a drug or drug class",
    "META_VALUE": "a value",
    "HEADING_TEXT": "a section title",
    # lab criteria and dose modification (issue 14)
    "LAB_UNIT": "a lab unit such as x10^9/L, x ULN, mL/min or g/dL",
    "NEG_INT": "a day before day 1 (-7)",
    "DOSE_LEVEL": "a dose level such as `level -1`",
    "DELAY": "delay (delay 1 week)",
    "CRITERIA": "criteria before each cycle:",
}

# Each label is matched against the parser state of a real error (Lark's match_examples),
# so a friendly message only appears for the slip it was written for.
ERROR_EXAMPLES: dict[str, list[str]] = {
    "missing unit after the dose|write the unit after the number, e.g. `2,5 mg` or `80 mg/m2`": [
        "drug letrozole 2,5 po daily\n",
        "drug letrozole 2,5\n",
        "drug paclitaxel 80 IV weekly\n",
    ],
    "number with more than one decimal separator|write one decimal separator: `2,5` or `2.5`": [
        "drug letrozole 2.5.0 mg po daily\n",
    ],
    "unclosed quote|close the text with a second `\"` on the same line": [
        'allow D012 "dose-dense\n',
        'regimen "TC weekly\n',
    ],
    "a branch needs a colon at the end|end the condition with `:` and indent its statements below it": [
        "when HER2+\n",
        "when PD-L1 TPS >= 50%\n",
        "otherwise\n",
    ],
    "a band needs an action after the colon|write what to do: `75%`, `level -1`, `delay 1 week`, `withhold` or "
    "`discontinue`": [
        "dose modification paclitaxel by ANC:\n  >= 1.5:\n",
        "dose modification paclitaxel by ANC:\n  >= 1.5: reduce\n",
    ],
    "a dose modification needs a colon at the end of its heading|end the heading with `:` and put the bands "
    "below it": [
        "dose modification paclitaxel by ANC\n  >= 1.5: 100%\n",
    ],
    "a fractionation needs the dose per fraction in Gy|write it as `5 x 4 Gy`": [
        "rt 5 x 4\n",
        "rt 5 x\n",
    ],
}


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The syntax tree (None when nothing could be parsed) and the P001 problems."""

    tree: Tree[Token] | None
    problems: tuple[SourceProblem, ...]


def _line_block(lines: list[str], index: int) -> range:
    """The line at `index` and the lines indented below it."""
    base = len(lines[index]) - len(lines[index].lstrip(" "))
    end = index + 1
    while end < len(lines):
        text = lines[end]
        stripped = text.lstrip(" ")
        if stripped and not stripped.startswith("//") and len(text) - len(stripped) <= base:
            break
        end += 1
    return range(index, end)


def _blank(lines: list[str], block: range) -> None:
    for i in block:
        text = lines[i]
        indent = len(text) - len(text.lstrip(" "))
        lines[i] = text[:indent] + "//" + " " * max(0, len(text) - indent - 2) if text.strip() else text


def _expected_words(expected: set[str]) -> str:
    words = sorted({TERMINAL_WORDS.get(name, name.lower().replace("_", " ")) for name in expected})
    visible = [w for w in words if not w.startswith("__")]
    if len(visible) > 6:
        return ", ".join(visible[:6]) + ", …"
    return ", ".join(visible)


@functools.lru_cache(maxsize=1)
def _example_states() -> tuple[tuple[int, str, str, str], ...]:
    """(LALR state, offending token type, label) of every error example, computed once."""
    out: list[tuple[int, str, str, str]] = []
    for label, snippets in ERROR_EXAMPLES.items():
        for snippet in snippets:
            text = "# s\n" + snippet
            try:
                _parse_text(text)
            except UnexpectedInput as error:
                key = _error_key(error, text)
                if key is not None:
                    out.append((*key, label))
    return tuple(out)


def _error_key(error: UnexpectedInput, text: str) -> tuple[int, str, str] | None:
    """LALR state, offending token type and the line's first word (states are shared between
    statements, e.g. after a number in a dose and in a fractionation).
    """
    state = getattr(error, "state", None)
    position = getattr(state, "position", None)
    if not isinstance(position, int):
        return None
    token = getattr(error, "token", None)
    line = text.split("\n")[max(0, (getattr(error, "line", 1) or 1) - 1)] if getattr(error, "line", -1) != -1 else ""
    words = line.split()
    return position, str(getattr(token, "type", "$END")), words[0].lower() if words else ""


def _friendly(error: UnexpectedInput, text: str) -> tuple[str, str] | None:
    # Lark's match_examples compares whole parser stacks, so an example only matches at
    # the same nesting depth; matching on the LALR state and the token type is enough here.
    key = _error_key(error, text)
    if key is None:
        return None
    for position, token_type, word, label in _example_states():
        if (position, token_type, word) == key:
            message, hint = label.split("|", 1)
            return message, hint
    return None


def _describe(error: UnexpectedInput, source: SourceFile, text: str) -> SourceProblem:
    line = max(1, getattr(error, "line", 1) or 1)
    column = max(1, getattr(error, "column", 1) or 1)
    friendly = _friendly(error, text)
    if isinstance(error, UnexpectedToken):
        token = error.token
        width = max(1, len(str(token))) if token.type not in ("_NL", "_DEDENT", "_INDENT", "$END") else 1
        if token.type == "_INDENT":
            message = "unexpected indented line"
            hint = "indent a line only under a statement or text line that can hold it; headings and metadata cannot"
        elif token.type in ("_NL", "$END", "_DEDENT"):
            message = f"line ends too early: expected {_expected_words(set(error.expected))}"
            hint = "complete the statement"
        else:
            message = f"unexpected `{token}`: expected {_expected_words(set(error.expected))}"
            hint = "see `docs/language.md` for the form of this statement"
    elif isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        char = source.text[position] if position < len(source.text) else ""
        width = 1
        message = f"unexpected character `{char}`: expected {_expected_words(set(error.allowed or ()))}"
        hint = "see `docs/language.md` for the form of this statement"
    else:
        width = 1
        message = "unexpected end of file"
        hint = "complete the last statement"
    if friendly is not None:
        message, hint = friendly
    text = source.line_text(line)
    if line > len(source.line_starts) or (isinstance(error, UnexpectedEOF)):
        line = max(1, len(source.line_starts) - 1)
        text = source.line_text(line)
        column = len(text) + 1
    span = Span(source.path, line, column, line, min(len(text) + 1, column + width) if text else column + 1)
    return SourceProblem("P001", message, span, hint)


def _parse_text(text: str) -> Tree[Token]:
    fast = accelerated()
    if fast is not None:
        try:
            return fast.parse(text)
        except Exception:  # the pure parser reports the error exactly as it always has
            pass
    return parser().parse(text)


def parse(source: SourceFile, skip_lines: frozenset[int] = frozenset()) -> ParseResult:
    """Parse a source file, recovering line by line from syntax errors.

    `skip_lines` (1-based) are blanked before parsing: lines already reported by the
    indentation scan, which the Indenter could not handle.
    """
    lines: list[str] | None = None  # split only to blank lines out (a sheet without errors needs none)
    if skip_lines:
        lines = source.text.split("\n")
        for number in sorted(skip_lines):
            if 0 < number <= len(lines):
                _blank(lines, _line_block(lines, number - 1))
    problems: list[SourceProblem] = []
    for _ in range(MAX_ERRORS + 1):
        text = source.text if lines is None else "\n".join(lines)
        if not text.endswith("\n"):
            text += "\n"
        try:
            return ParseResult(_parse_text(text), tuple(problems))
        except DedentError:
            if lines is None:
                lines = source.text.split("\n")
            # Blanking a broken line can leave the lines under it dedenting to no block;
            # the Indenter says so without a position, so find the line here.
            bad = _bad_dedent(lines)
            if bad is None:
                break
            problems.append(SourceProblem(
                "P001", "indentation does not match any enclosing block", source.line_span(bad + 1),
                "indent this line like the statement it belongs to (the line above it could not be read)"))
            _blank(lines, _line_block(lines, bad))
        except UnexpectedInput as error:
            if lines is None:
                lines = source.text.split("\n")
            problem = _describe(error, source, text)
            problems.append(problem)
            index = min(problem.span.line, len(lines)) - 1
            if index < 0 or not lines[index].strip() or lines[index].lstrip(" ").startswith("//"):
                index = _last_content_line(lines, index)
            if index < 0:
                break
            _blank(lines, _line_block(lines, index))
    return ParseResult(None, tuple(problems))


def _bad_dedent(lines: list[str]) -> int | None:
    """The first line that dedents to a column no open block started at (the Indenter's rule)."""
    stack = [0]
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("//"):
            continue
        indent = len(line) - len(stripped)
        if indent > stack[-1]:
            stack.append(indent)
            continue
        while indent < stack[-1]:
            stack.pop()
        if indent != stack[-1]:
            return index
    return None


def _last_content_line(lines: list[str], before: int) -> int:
    for i in range(min(before, len(lines) - 1), -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("//"):
            return i
    return -1



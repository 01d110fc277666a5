"""Both parser backends against Lark's own tree building with `propagate_positions`.

`parser()` (pure Python Lark) and `accelerated()` (lark-cython, when installed) replace
Lark's per-rule wrappers by one callback that records the offsets Lark would; these
tests parse every shipped sheet and every fixture with each backend and with the
reference, and require the same trees, the same offsets for every node, the same
model and builder diagnostics, and the same syntax errors (P001) from `parse()`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lark import Token, Tree
from lark.exceptions import LarkError
from lark.grammar import Rule

from compiler import parse as parsing
from compiler import regex_code
from compiler.build import build
from compiler.model import to_json
from compiler.parse import Node, offsets, parser, reference_parser
from compiler.source import SourceFile
from tests.conftest import PARSER_SHEETS, ROOT, lark_cython_or_skip, parser_text


def _same(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, Token):
        assert isinstance(ours, Token), where
        assert (ours.type, str(ours), ours.start_pos, ours.end_pos) == \
               (theirs.type, str(theirs), theirs.start_pos, theirs.end_pos), where
        return
    assert isinstance(ours, Node) and isinstance(theirs, Tree), where
    assert ours.data == theirs.data and len(ours.children) == len(theirs.children), where
    assert offsets(ours) == offsets(theirs), (where, ours.data)
    for mine, other in zip(ours.children, theirs.children, strict=True):
        _same(mine, other, where)


@pytest.fixture(scope="module")
def reference() -> Any:
    return reference_parser()


def _backend(name: str) -> Callable[[str], Any]:
    if name == "pure":
        return parser().parse
    fast = parsing.accelerated()
    if fast is None:
        pytest.skip("lark-cython is not installed (or PROTOCOLC_PARSER=pure)")
    return fast.parse


def _backends() -> dict[str, Callable[[str], Any]]:
    fast = parsing.accelerated()
    return {"pure": parser().parse, **({"cython": fast.parse} if fast is not None else {})}


@pytest.mark.parametrize("path", PARSER_SHEETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_trees_offsets_and_models_match_larks_own(path: Path, reference: Any) -> None:
    # one test per file for both backends: the reference parse and build are done once
    text = parser_text(path)
    if text is None:
        pytest.skip("not UTF-8 (refused before parsing)")
    try:
        theirs = reference.parse(text)
    except LarkError as error:
        for backend, parse_text in _backends().items():
            with pytest.raises(type(error) if backend == "pure" else Exception):
                parse_text(text)
        return
    source = SourceFile.from_text(str(path), text)
    reference_model, reference_diagnostics = build(source, theirs)
    expected_model = to_json(reference_model)
    for backend, parse_text in _backends().items():
        ours = parse_text(text)
        _same(ours, theirs, f"{path} ({backend})")
        assert ours.pretty() == theirs.pretty(), backend
        model, diagnostics = build(source, ours)
        assert to_json(model) == expected_model, backend
        assert diagnostics == reference_diagnostics, backend


def test_the_accelerated_backend_is_tested_when_installed() -> None:
    try:
        import lark_cython  # noqa: F401
    except ImportError:
        pytest.skip("lark-cython is not installed")
    if parsing.PARSER_ENV in os.environ:
        pytest.skip("the backend is chosen by PROTOCOLC_PARSER")
    assert parsing.backend() == "cython" and "cython" in _backends()


BROKEN = [
    "# s\ndrug letrozole 2,5 po daily\ndrug zolendronaat 4 mg IV\ndrug anastrozole 1 po daily\n",
    "# s\nwhen HER2+\n  drug x 1 mg po daily\n    query: y\n  drug y\n",
    "# s\n  indented first\nrt 5 x\nallow D012 \"open\n",
    "id: x\n# s\ndose modification paclitaxel by ANC\n  >= 1.5: 100%\n",
    "# s\ndrug x (Brand 1 mg po\n  when (A or B:\n    drug y 2 mg\n",
]


@pytest.mark.parametrize("text", BROKEN + [parser_text(p) or "" for p in PARSER_SHEETS if p.parent.name == "P001"])
def test_syntax_errors_are_the_same_with_either_backend(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = SourceFile.from_text("x.protocol", text)
    with_default = parsing.parse(source)
    monkeypatch.setattr(parsing, "accelerated", lambda: None)
    pure = parsing.parse(source)
    assert with_default.problems == pure.problems
    assert (with_default.tree is None) == (pure.tree is None)
    if pure.tree is not None and with_default.tree is not None:
        assert with_default.tree.pretty() == pure.tree.pretty()


def test_pure_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parsing.PARSER_ENV, "pure")
    parsing.accelerated.cache_clear()
    try:
        assert parsing.accelerated() is None and parsing.backend() == "pure"
    finally:
        parsing.accelerated.cache_clear()


@pytest.mark.parametrize("backend", ["pure", "cython"])
def test_offsets_of_an_inlined_rule_exclude_its_parentheses(backend: str) -> None:
    # `(A or B)`: the condition covers `A or B`; the line covers the parentheses and the colon.
    text = "# s\nwhen (HER2+ or ER+):\n  drug x 1 mg po daily\n"
    tree = _backend(backend)(text)
    conditions = list(tree.find_data("or_cond"))
    assert len(conditions) == 1
    where = offsets(conditions[0])
    assert where is not None and text[slice(*where)] == "HER2+ or ER+"
    line = next(tree.find_data("when_line"))
    where = offsets(line)
    assert where is not None and text[slice(*where)] == "when (HER2+ or ER+):"


@pytest.mark.parametrize("backend", ["pure", "cython"])
def test_a_node_without_tokens_has_no_offsets(backend: str) -> None:
    tree = _backend(backend)("# s\ndrug letrozole\n")
    phase = next(tree.find_data("phase"))
    assert offsets(phase) is None


@pytest.mark.parametrize("backend", ["pure", "cython"])
def test_reductions_compare_rules_without_a_python_call(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both LALR loops test `arg != end_state` for every action and look up the reduced rule's
    # callback: with Lark's `Rule.__eq__` that was a Python call per reduction.
    parse_text = _backend(backend)
    calls: list[object] = []
    original = Rule.__eq__

    def counting(rule: Rule, other: object) -> bool:
        calls.append(other)
        return bool(original(rule, other))

    monkeypatch.setattr(Rule, "__eq__", counting)
    tree = parse_text("# s\ndrug letrozole 2,5 mg po daily\nwhen (HER2+ or ER+):\n  drug x 1 mg po daily\n")
    assert isinstance(tree, Node) and calls == []


# The accelerated parser is built from a plain copy of the parser kept in the cache folder;
# any problem with that copy builds it again from Lark, as without a cache.


@dataclass(frozen=True)
class BuiltCache:
    """One real build of the accelerated parser in an empty cache folder, as a first run makes it."""

    folder: Path  # the XDG cache folder it was built in
    path: Path  # the cache file the build wrote
    data: bytes  # that file's bytes
    plain: dict[str, Any]  # the parser the file holds, read back
    trees: list[str]  # the built parser's trees of the shipped sheets


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltCache:
    module = lark_cython_or_skip()
    folder = tmp_path_factory.mktemp("built-parser-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        parsing.accelerated.cache_clear()
        try:
            fast = parsing.accelerated()
            assert fast is not None
            path, key = parsing._cache_path(module)
            plain = parsing._read_cache(path, key)
            assert plain is not None
            return BuiltCache(folder, path, path.read_bytes(), plain, _shipped_trees(fast.parse))
        finally:
            parsing.accelerated.cache_clear()


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty cache folder; `accelerated()` is made again in it (and once more after the test)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parsing.accelerated.cache_clear()
    yield tmp_path / "protocolc"
    parsing.accelerated.cache_clear()


@pytest.fixture
def scanners_as_built(built: BuiltCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build of the parser takes its scanners' code from `built` instead of compiling it again.

    Compiling the scanners is most of a build's two seconds and gives the same code every time;
    `built` compiled it once for real. The tests that use this fixture are about what sends a
    run to the build (a damaged, foreign or unwritable cache) and what it writes afterwards."""
    code = (built.plain["regex"], built.plain["dispatch"])
    monkeypatch.setattr(parsing._StateLexers, "scanner_code", lambda self: code)


def _cache_file(module: Any) -> Path:
    path, _ = parsing._cache_path(module)
    return path


def _shipped_trees(parse_text: Callable[[str], Any]) -> list[str]:
    return [parse_text(text).pretty() for path in sorted(ROOT.glob("protocols/**/*.protocol"))
            if (text := parser_text(path)) is not None]


def test_the_parser_cache_is_private_and_read_back(built: BuiltCache, monkeypatch: pytest.MonkeyPatch) -> None:
    module = lark_cython_or_skip()
    assert built.path.parent == built.folder / "protocolc" and built.path.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("XDG_CACHE_HOME", str(built.folder))
    assert _cache_file(module) == built.path
    parsing.accelerated.cache_clear()

    def no_lark() -> Any:
        raise AssertionError("read from the cache, not built from Lark")

    monkeypatch.setattr(parsing, "parser", no_lark)
    try:
        cached = parsing.accelerated()
        assert cached is not None
        assert _shipped_trees(cached.parse) == built.trees
        assert built.path.read_bytes() == built.data  # read, not written again
    finally:
        parsing.accelerated.cache_clear()


def test_the_built_parser_parses_as_the_pure_one(built: BuiltCache) -> None:
    assert built.trees == _shipped_trees(parser().parse)


def test_the_scanners_are_built_from_kept_code_not_compiled(fresh_cache: Path, built: BuiltCache,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    module = lark_cython_or_skip()
    fresh_cache.mkdir(parents=True)
    _cache_file(module).write_bytes(built.data)
    compiled: list[str] = []
    original = regex_code.re.compile

    def counting(pattern: str, flags: int = 0) -> Any:
        compiled.append(pattern)
        return original(pattern, flags)

    monkeypatch.setattr(regex_code.re, "compile", counting)
    cached = parsing.accelerated()
    assert cached is not None
    assert _shipped_trees(cached.parse) == built.trees
    scanners = [p for p in compiled if "(?P<" in p]
    assert not scanners, f"{len(scanners)} scanners compiled although their code was kept"
    assert parsing._read_cache(*parsing._cache_path(module))["regex"]  # type: ignore[index]


def test_kept_code_rebuilds_the_very_pattern_re_compiles() -> None:
    patterns = [(r"(?P<A>a+)|(?P<B>b[0-9]*)", 0), (r"(?i:caf\u00e9)\s+(x|y)?", 0), ("(?P<X>[À-ÿ]+)", re.IGNORECASE),
                (r"^\s*$", re.MULTILINE)]
    for pattern, flags in patterns:
        entry = regex_code.record(pattern, flags)
        assert entry is not None
        built = regex_code.KeptPatterns({(pattern, flags): entry}).compile(pattern, flags)
        reference = re.compile(pattern, flags)
        assert built == reference and built.groupindex == reference.groupindex
        for text in ("aaa", "b12", "CAFÉ y", "Éé", "", "  \n"):
            found, expected = built.match(text), reference.match(text)
            assert (found and (found.span(), found.lastgroup)) == (expected and (expected.span(), expected.lastgroup))


def test_damaged_kept_code_is_compiled_instead() -> None:
    pattern = r"(?P<A>a+)|(?P<B>b)"
    entry = regex_code.record(pattern, 0)
    assert entry is not None
    flags, code, groups, names, by_number = entry
    for damaged in ((flags, code[: len(code) // 2], groups, names, by_number), (flags, b"\xff" * 64, groups, names,
                                                                                by_number)):
        kept = regex_code.KeptPatterns({(pattern, 0): damaged})
        assert kept.compile(pattern, 0) == re.compile(pattern)
        assert (pattern, 0) not in kept.kept


def _damaged(module: Any) -> list[bytes]:
    import hashlib
    import marshal

    _, key = parsing._cache_path(module)
    plain = parsing._plain(parser())
    good = marshal.dumps(plain)
    short = dict(plain, states={state: row for state, row in plain["states"].items() if state % 2})
    wrong = dict(plain, rules=plain["rules"][:10])
    signed = [key + hashlib.sha256(payload).digest() + payload
              for payload in (marshal.dumps(short), marshal.dumps(wrong), marshal.dumps([1, 2]), b"\x00garbage")]
    return [b"", b"not a cache", key + b"\x00" * 32 + good, (b"\x01" * 32) + hashlib.sha256(good).digest() + good,
            key + hashlib.sha256(good).digest() + good[: len(good) // 2], *signed]


# two shipped sheets (the longest seed and a regimen) for the tests that build a parser again:
# the built parser's trees of every shipped sheet are compared once, with `built`
_SOME_SHEETS = ("protocols/borst/emmaus-gemetastaseerd-borstcarcinoom.protocol", "protocols/regimes/borst/ac-q21d.protocol")


def _parses_as_the_pure_parser(fast: Any) -> None:
    for name in _SOME_SHEETS:
        text = parser_text(ROOT / name)
        assert text is not None and fast.parse(text).pretty() == parser().parse(text).pretty(), name


@pytest.mark.parametrize("case", range(9))
def test_a_damaged_or_foreign_parser_cache_is_built_again(case: int, fresh_cache: Path, built: BuiltCache,
                                                          scanners_as_built: None) -> None:
    module = lark_cython_or_skip()
    content = _damaged(module)[case]
    path = _cache_file(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    fast = parsing.accelerated()
    assert fast is not None and parsing.backend() == "cython"
    _parses_as_the_pure_parser(fast)
    # written again, whole: the very parser a build in an empty folder writes
    assert path.read_bytes() != content
    assert parsing._read_cache(*parsing._cache_path(module)) == built.plain


def test_an_unwritable_cache_folder_still_parses(fresh_cache: Path, scanners_as_built: None) -> None:
    lark_cython_or_skip()
    fresh_cache.parent.mkdir(parents=True, exist_ok=True)
    fresh_cache.write_text("a file where the folder should be")
    fast = parsing.accelerated()
    assert fast is not None
    _parses_as_the_pure_parser(fast)
    assert fresh_cache.read_text() == "a file where the folder should be"


def test_a_damaged_parser_cache_leaves_no_trace_in_a_check(tmp_path: Path, built: BuiltCache) -> None:
    # a whole `protocolc check` over a garbage cache file: the same findings, no traceback
    import subprocess
    import sys

    sheet = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "compiler", "check", "--no-cache", "--format", "json", str(sheet)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)

    path = tmp_path / "protocolc" / built.path.name
    path.parent.mkdir()
    path.write_bytes(built.data)  # the good cache, as a first run leaves it
    clean = check()
    assert path.read_bytes() == built.data
    path.write_bytes(built.data[:100] + b"\xff" * 100)
    damaged = check()
    assert "Traceback" not in damaged.stderr and damaged.returncode == clean.returncode
    assert damaged.stdout == clean.stdout
    assert path.read_bytes() != built.data[:100] + b"\xff" * 100  # built again by the check


def test_the_parser_cache_is_keyed_by_the_lark_cython_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import lark_cython

    module = lark_cython_or_skip()
    before = parsing._cache_path(module)
    monkeypatch.setattr(lark_cython, "__version__", "0.0.0-another", raising=False)
    assert parsing._cache_path(module) != before

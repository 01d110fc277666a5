"""End-to-end tests: run the `protocolc` command as a user would, on good and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

GOOD = FIXTURES / "F002" / "pass_generic_brand.protocol"
BAD = FIXTURES / "F001" / "fail_misspelled.protocol"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def test_check_clean_file_exits_0() -> None:
    result = run("check", str(GOOD))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


def test_check_error_exits_1_with_rustc_style_output() -> None:
    result = run("check", str(BAD))
    assert result.returncode == 1
    assert "error[F001]: unknown drug `zolendronaat`" in result.stdout
    assert f"--> {BAD}:13:6" in result.stdout
    assert "^^^^^^^^^^^^" in result.stdout
    assert "= help: did you mean zoledronic acid?" in result.stdout


def test_json_shape() -> None:
    result = run("check", "--format", "json", str(BAD))
    data = json.loads(result.stdout)
    assert set(data) == {"diagnostics", "summary"}
    assert data["summary"] == {"files": 1, "errors": 1, "warnings": 0, "infos": 0}
    (diagnostic,) = data["diagnostics"]
    assert {"code", "severity", "message", "file", "line", "column", "end_line", "end_column", "hint", "fix"} <= set(diagnostic)
    assert diagnostic["severity"] in ("error", "warning", "info")
    assert (diagnostic["line"], diagnostic["column"], diagnostic["end_column"]) == (13, 6, 18)
    assert diagnostic["fix"]["replacement"] == "zoledronic acid"


def test_strict_makes_warnings_fail() -> None:
    warning_only = FIXTURES / "X005" / "fail_typo.protocol"
    assert run("check", str(warning_only)).returncode == 0
    assert run("check", "--strict", str(warning_only)).returncode == 1


def test_sarif_structure() -> None:
    result = run("check", "--format", "sarif", str(BAD))
    data = json.loads(result.stdout)
    assert data["version"] == "2.1.0"
    run_ = data["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    (sarif_result,) = run_["results"]
    assert rule_ids[sarif_result["ruleIndex"]] == sarif_result["ruleId"] == "F001"
    region = sarif_result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (13, 6)


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("check").returncode == 2
    assert run("check", "no/such/file.protocol").returncode == 2
    assert run("explain", "Z999").returncode == 2
    assert run("frobnicate").returncode == 2


def test_explain_prints_rule_doc() -> None:
    result = run("explain", "F001")
    assert result.returncode == 0
    for heading in ("What it checks:", "Why it matters:", "Example:", "Use instead:", "Source:"):
        assert heading in result.stdout


def test_rules_json_lists_codes() -> None:
    data = json.loads(run("rules", "--format", "json").stdout)
    codes = {r["code"] for r in data}
    assert {"P001", "F001", "X001", "V001"} <= codes
    assert all(set(r) >= {"code", "name", "severity", "summary"} for r in data)


def test_model_json() -> None:
    result = run("model", "--format", "json", str(GOOD))
    data = json.loads(result.stdout)
    drug = data["protocol"]["sections"][0]["items"][0]
    assert drug["node"] == "DrugLine"
    assert drug["drug_id"] == "letrozole"
    assert drug["phases"][0]["dose"]["amount"]["value"] == "2.5"


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("protocolc ")


# ------------------------------------------------------------------ bad input, never a traceback

def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


HEADER = (FIXTURES / "F002" / "pass_generic_brand.protocol").read_text().split("# ")[0]

BAD_INPUTS: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"   \n\n  \n",
    "binary": bytes(range(256)) * 4,
    "invalid_utf8": b"id: x\ntitle: caf\xe9\n",
    "huge": b"Tekst.\n" * 1_500_000,
    "deep_nesting": b"".join(b" " * (2 * i) + b"- x\n" for i in range(1000)),
    "deep_parens": b"# s\nwhen " + b"(" * 1000 + b"HER2+" + b")" * 1000 + b":\n  Tekst.\n",
    "unknown_words": b"# s\nfrobnicate the protocol\ndrug\ndrug drug drug\nrt x Gy\nwhen\n",
    "every_field_wrong": (b"id: Not An Id!\ntitle:\nversion: two\nstatus: final\nlanguage: klingon\nowner:\n"
                          b"author: A\napprover: A\nauthored: 31-12-2026\napproved: 2026-13-45\nnext review: soon\n"
                          b"scope:\nreference:\nchange note:\ncolour: blue\nversion: 3.0\n# s\nTekst.\n"),
    "duplicate_keys": b"id: a\nid: b\ntitle: t\ntitle: u\n# s\nTekst.\n",
    "only_indent": b"    - x\n  - y\n - z\n",
    "crlf_and_bom": b"\xef\xbb\xbf" + HEADER.encode().replace(b"\n", b"\r\n") + b"# s\r\ndrug letrozole 2,5 mg po daily\r\n",
    "nul_in_middle": HEADER.encode() + b"# s\nTekst\x00.\n",
    "tabs": b"# s\nX:\n\t- y\n",
    "unicode_junk": "# s\n\u202e\u200b drug ≥≥≥ ½ µg ²\n\ud7ff".encode("utf-8", "surrogatepass"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_diagnostics_not_traceback(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, f"{name}.protocol", BAD_INPUTS[name])
    for fmt in ("human", "json"):
        result = run("check", "--format", fmt, str(path))
        assert "Traceback" not in result.stdout + result.stderr
        assert result.returncode in (0, 1, 2), result.stderr
        if fmt == "json":
            data = json.loads(result.stdout)
            if name != "crlf_and_bom":
                assert data["diagnostics"], f"{name}: no diagnostic"
                assert result.returncode == 1
            for d in data["diagnostics"]:
                assert d["code"] and d["message"] and d["hint"] and d["line"] >= 1 and d["column"] >= 1


def test_crlf_and_bom_read_cleanly(tmp_path: Path) -> None:
    path = _write(tmp_path, "crlf.protocol", BAD_INPUTS["crlf_and_bom"])
    result = run("check", "--format", "json", str(path))
    assert json.loads(result.stdout)["summary"]["errors"] == 0, result.stdout


def test_every_field_wrong_names_each_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "wrong.protocol", BAD_INPUTS["every_field_wrong"])
    data = json.loads(run("check", "--format", "json", str(path)).stdout)
    codes = [(d["line"], d["code"]) for d in data["diagnostics"]]
    for expected in [(1, "V001"), (3, "V001"), (4, "V001"), (5, "V001"), (8, "V002"), (9, "V001"), (10, "V001"),
                     (11, "V001"), (15, "P006"), (16, "P005")]:
        assert expected in codes, (expected, codes)


def test_check_does_not_import_weasyprint() -> None:
    code = (f"import sys; from compiler.cli import main; main(['check', {str(GOOD)!r}]); "
            "print('LOADED' if 'weasyprint' in sys.modules else 'CLEAN')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().endswith("CLEAN")


def _tool(variable: str) -> str | None:
    tool = os.environ.get(variable)
    if tool is None and os.environ.get("PROTOCOLC_REQUIRE_TOOLS"):
        pytest.fail(f"{variable} is not set but external tools are required (CI)")
    return tool


# A log the validator must fail (a driver without its name, a message without text), validated in
# the same run as ours, so a run that validates nothing cannot pass.
SARIF_CONTROL = '{"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"message": {}}]}]}'


def test_sarif_validates_with_the_sarif_multitool(tmp_path: Path) -> None:
    tool = _tool("SARIF_MULTITOOL")
    if tool is None:
        pytest.skip("SARIF_MULTITOOL not set (.ci/run installs @microsoft/sarif-multitool)")
    logs = []
    # findings with a relative path, another rule's findings, and an absolute path
    for number, target in enumerate((str(BAD), str(FIXTURES / "X010" / "fail_no_reason.protocol"), str(BAD.resolve()))):
        logs.append(tmp_path / f"out-{number}.sarif")
        logs[-1].write_text(run("check", "--format", "sarif", target).stdout)
    control = tmp_path / "control.sarif"
    control.write_text(SARIF_CONTROL)
    report = tmp_path / "validation.sarif"
    result = subprocess.run([tool, "validate", *map(str, logs), str(control), "-o", str(report)], capture_output=True,
                            text=True, timeout=300, check=False)
    assert f"{len(logs) + 1} files scanned" in result.stdout, result.stdout + result.stderr
    data = json.loads(report.read_text(encoding="utf-8-sig"))
    problems = [r for r in data["runs"][0].get("results", []) if r.get("level", "warning") == "error"]
    where = {Path(urllib.parse.urlparse(location["physicalLocation"]["artifactLocation"]["uri"]).path)
             for r in problems for location in r.get("locations", [])}
    assert where == {control}, [r["message"] for r in problems]


def test_fix_applies_only_safe_fixes(tmp_path: Path) -> None:
    header = HEADER
    text = header + ("# s\n"
                     "drug Femara 2,5 mg po qd\n"        # F002 (safe), N002 (safe)
                     "drug zolendronaat 4 mg IV every 4 weeks, infusion at least 15 min\n"  # F001 (safe spelling)
                     "drug anastrozole 1,0 mg po daily\n"  # N003 (safe)
                     "Nadien zie §nergens.\n")  # X003: unsafe suggestion, never applied
    path = _write(tmp_path, "fix.protocol", text.encode())
    result = run("check", "--fix", "--format", "json", str(path))
    fixed = path.read_text()
    assert "drug letrozole (Femara) 2,5 mg po daily" in fixed
    assert "drug zoledronic acid 4 mg IV" in fixed
    assert "drug anastrozole 1 mg po daily" in fixed
    assert "§nergens" in fixed
    assert (tmp_path / "fix.protocol~").read_text() == text
    codes = {d["code"] for d in json.loads(result.stdout)["diagnostics"]}
    assert codes == {"X003", "D030", "D031"}  # the fixed name is now a known drug, and checked as one


def test_cached_runs_give_identical_output_in_every_format(tmp_path: Path) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    for fmt in ("human", "json", "sarif"):
        first = run("check", "--format", fmt, *cache, str(FIXTURES / "P008"), str(BAD))
        second = run("check", "--format", fmt, *cache, str(FIXTURES / "P008"), str(BAD))
        assert first.returncode == second.returncode == 1
        assert first.stdout == second.stdout and not second.stderr, second.stderr


def test_check_on_a_folder_without_protocols_exits_2(tmp_path: Path) -> None:
    result = run("check", str(tmp_path))
    assert result.returncode == 2 and "no protocols found" in result.stderr


def test_model_on_a_folder_or_missing_file_exits_2_like_check(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.protocol"):
        result = run("model", str(path))
        assert result.returncode == 2, result.stderr
        assert run("check", str(path)).returncode == 2
        assert "Traceback" not in result.stderr


def test_export_needs_an_explicit_format() -> None:
    result = run("export", str(GOOD))
    assert result.returncode == 2 and "--fhir" in result.stderr and not result.stdout
    result = run("export", "--model", str(GOOD))
    assert result.returncode == 0 and json.loads(result.stdout)["protocol"]["node"] == "Protocol"


def test_build_prints_a_summary_and_findings_only_for_failing_sheets_or_with_v(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "good.protocol").write_text(GOOD.read_text().replace("id: fixture", "id: good"))
    (book / "bad.protocol").write_text(BAD.read_text().replace("id: fixture", "id: bad"))
    result = run("build", str(book), "-o", str(tmp_path / "out"), "--no-pdf", "--no-cache")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok   ") and "good.protocol" in line and "report:" in line for line in lines)
    assert any(line.startswith("FAIL ") and "bad.protocol" in line for line in lines)
    assert "error[F001]" in result.stdout  # the failing sheet's findings
    verbose = run("build", str(book), "-o", str(tmp_path / "out"), "--no-pdf", "--no-cache", "-v")
    assert verbose.stdout.count("-->") >= result.stdout.count("-->")


def test_fix_reaches_the_fixed_point_in_one_run_and_never_overwrites_a_backup(tmp_path: Path) -> None:
    text = HEADER + "# s\ndrug anastrozole .5 mg po daily\n"
    path = _write(tmp_path, "point.protocol", text.encode())
    first = run("check", "--fix", str(path))
    assert "anastrozole 0,5 mg po daily" in path.read_text(), path.read_text()  # `.5` → `0.5` → `0,5` at once
    assert (tmp_path / "point.protocol~").read_text() == text
    assert run("check", "--fix", str(path)).stderr.count("fixed") == 0  # nothing left to fix
    second_text = path.read_text().replace("anastrozole 0,5 mg", "Femara 2,5 mg")
    path.write_text(second_text)
    run("check", "--fix", str(path))
    assert (tmp_path / "point.protocol~").read_text() == text  # the first backup is kept
    assert (tmp_path / "point.protocol.~1~").read_text() == second_text
    assert "fixed" in first.stderr


def test_rules_list_every_severity_a_rule_is_emitted_with() -> None:
    listed = {r["code"]: r["severities"] for r in json.loads(run("rules", "--format", "json").stdout)}
    assert listed["C004"] == ["error", "warning"]  # RULES.md: an error; a warning when the arm is silent on menopause
    found = json.loads(run("check", "--format", "json", str(FIXTURES), "protocols").stdout)["diagnostics"]
    assert found
    wrong = {(d["code"], d["severity"]) for d in found if d["severity"] not in listed.get(d["code"], [])}
    assert not wrong, sorted(wrong)

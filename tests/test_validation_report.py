"""`check --report`: the validation report a quality officer signs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, ROOT


def test_report_lists_findings_acknowledgements_queries_computed_values_and_data(tmp_path: Path) -> None:
    header = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])
    source = tmp_path / "r.protocol"
    source.write_text(header + "\n# Sectie\n"
                      "drug Nolvadex 20 mg po daily\n"
                      '  allow F002 "merknaam op vraag van de afdeling"\n'
                      "  query: klopt <script>dit</script>?\n"
                      "drug tamoxifen <b>20</b> mg po daily\n"
                      "rt 5 x 4 Gy = 20 Gy site bot\n"
                      "drug carboplatin AUC 5 IV every 3 weeks, infusion 30 min\n")
    report = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "compiler", "check", str(source), "--report", str(report),
                             "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1  # the malformed tamoxifen line is an error
    html = report.read_text()
    assert "merknaam op vraag van de afdeling" in html  # the acknowledgement's justification
    assert "klopt &lt;script&gt;dit&lt;/script&gt;?" in html and "<script>" not in html
    assert "BED 28 Gy, EQD2 23,3 Gy" in html  # computed, in the report's (nl) notation
    assert "AUC 5: maximaal 750 mg" in html  # the Calvert cap
    for name in ("formulary.yaml", "regimens.yaml", "conditions.yaml"):
        assert name in html
    assert "Handtekening" in html

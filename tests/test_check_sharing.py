"""Work the checks share (issue 17): computed once per check run, and never across data tables.

`Context.shared` keeps a derived view of the model for every rule of one run; the look-ups
of compiler.arms, compiler.resolve and compiler.radiobiology are remembered per tables
object, so tables with a hospital's overrides (a new object) never see another's answers.
"""

from __future__ import annotations

import copy
import dataclasses

from compiler import arms as a
from compiler import model as m
from compiler import radiobiology
from compiler.checks import Context
from compiler.pipeline import compile_text
from compiler.resolve import resolve_product
from compiler.tables import Tables, load
from tests.conftest import FIXTURES, TODAY

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11]) + "\n\n"


def _context() -> Context:
    result = compile_text("share.protocol", (HEADER + "# H\ndrug letrozole 2,5 mg po daily\n").encode(), TODAY)
    assert result.protocol is not None and result.source is not None
    return Context(result.protocol, result.source, load(), TODAY, result.protocol.all_items())


def test_a_shared_view_is_computed_once_per_context() -> None:
    calls: list[int] = []

    def count(context: Context) -> int:
        calls.append(1)
        return len(context.items)

    first = _context()
    assert first.shared(count) == first.shared(count) == len(first.items)
    assert len(calls) == 1
    second = _context()  # another run: computed again
    second.shared(count)
    assert len(calls) == 2


def _with_drug(tables: Tables, drug_id: str, **changes: object) -> Tables:
    drugs = dict(tables.drugs)
    drugs[drug_id] = {**copy.deepcopy(drugs[drug_id]), **changes}
    return dataclasses.replace(tables, drugs=drugs)  # same fingerprint: only the object differs


def test_requirements_follow_the_tables_object() -> None:
    tables = load()
    assert not a.satisfies("tamoxifen", "letrozole", tables)
    other = _with_drug(tables, "letrozole", counts_as=["tamoxifen"])
    assert a.satisfies("tamoxifen", "letrozole", other)
    assert a.counts_as("letrozole", other) == {"letrozole", "tamoxifen"}
    assert not a.satisfies("tamoxifen", "letrozole", tables)
    assert a.counts_as("letrozole", tables) == {"letrozole"}


def test_product_groups_and_sites_follow_the_tables_object() -> None:
    tables = load()
    result = compile_text("share.protocol", (HEADER + "# H\ndrug denosumab 120 mg subcut every 4 weeks\n").encode(),
                          TODAY)
    assert result.protocol is not None
    line = next(i for i in result.protocol.all_items() if isinstance(i, m.DrugLine))
    assert resolve_product(line, tables)[0] == "denosumab_xgeva"
    groups = dict(tables.product_groups)
    groups["denosumab"] = {**groups["denosumab"], "names": ["no such name"]}
    other = dataclasses.replace(tables, product_groups=groups)
    assert resolve_product(line, other)[0] is None
    assert radiobiology.site_info("bot", tables).indications
    schemes = {**tables.rt_schemes, "sites": []}
    assert not radiobiology.site_info("bot", dataclasses.replace(tables, rt_schemes=schemes)).indications
    assert radiobiology.site_info("bot", tables).indications

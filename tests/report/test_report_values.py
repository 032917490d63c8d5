"""The values a report shows: grokked/censored counts per cell, medians that count censored members as +inf
(report/cells.py ``cens_median``), and the actual numbers in the rendered HTML."""

from __future__ import annotations

import html as htmllib
import math
import re
from pathlib import Path

import pytest
from catalog_synth import write_run, write_sweep

from grokscope.report.cells import cens_median
from grokscope.report.html import write_report

# -- cens_median's documented rule on hand-built inputs ---------------------------------------------------------------


@pytest.mark.parametrize("times, want", [
    ([100, 300, None], 300.0),  # one censored of three: +inf sorts last; dropping it would give 200
    ([100, None, 300, 200, None], 300.0),  # two of five censored: still finite, the 3rd smallest
    ([100, None], math.inf),  # half censored: the median is censored
    ([None, None, 50], math.inf),
    ([400, 100, 200, 300], 250.0),  # none censored: the ordinary median
    ([float("nan"), 10, 20], 20.0),  # NaN is missing, i.e. censored
])
def test_cens_median_counts_censored_as_infinity(times: list, want: float) -> None:
    assert cens_median(times) == want


def test_cens_median_of_nothing_is_none() -> None:
    assert cens_median([]) is None


# -- the rendered report ------------------------------------------------------------------------------------------
WDS = [0.5, 2.0, 5.0]
T_GROK = [100, 300, None,   # wd 0.5: 2/3 grokked, median 300 (not 200)
          200, 400, 600,    # wd 2.0: 3/3, median 400
          700, None, None]  # wd 5.0: 1/3, median censored


def table_rows(page: str, heading: str) -> list[list[str]]:
    """The data rows of the table after ``<h2>heading</h2>``, as cell texts."""
    section = page.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", section, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        if cells:
            rows.append([htmllib.unescape(c).strip() for c in cells])
    return rows


@pytest.fixture(scope="module")
def packed_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("rep") / "runs"
    write_run(root, "syn-packed", vary={"optim.wd": WDS}, seeds=3, t_grok=T_GROK)
    return write_report(root, root.parent / "out").read_text()


def test_summary_counts_grokked_and_censored_members(packed_report: str) -> None:
    n_grok = sum(t is not None for t in T_GROK)
    assert re.search(rf"\b{len(T_GROK)} members:\s+{n_grok} grokked, {len(T_GROK) - n_grok} censored\b", packed_report)


def test_cells_table_counts_and_censored_medians(packed_report: str) -> None:
    rows = table_rows(packed_report, "Cells")
    assert len(rows) == 3
    # columns: #, wd, members, grokked, median T_mem, median T_grok, median delay, median final test acc, budget
    by_wd = {float(r[1]): r for r in rows}
    assert set(by_wd) == set(WDS)
    for i, wd in enumerate(WDS):
        times = T_GROK[3 * i:3 * i + 3]
        r = by_wd[wd]
        assert r[2] == "3"
        assert r[3] == str(sum(t is not None for t in times))
        assert r[4] == "20"  # every synthetic member memorised at 20
        assert r[8] == "1000"
    assert by_wd[0.5][5] == "300", "one censored member of three must count as +inf, not be dropped"
    assert by_wd[2.0][5] == "400"
    assert by_wd[5.0][5] == "censored (> 1000)"
    assert by_wd[0.5][6] == "180"  # median delay over grokked members: (80, 280) -> 180
    assert by_wd[2.0][6] == "380"


def test_censored_cells_are_marked_and_only_those(packed_report: str) -> None:
    section = packed_report.split("<h2>Cells</h2>", 1)[1].split("</table>", 1)[0]
    assert section.count('class="cens"') == 1


def test_member_table_shows_each_members_t_grok(packed_report: str) -> None:
    rows = table_rows(packed_report, "Members")
    assert len(rows) == len(T_GROK)
    header = re.findall(r"<th[^>]*>(.*?)</th>", packed_report.split("<h2>Members</h2>", 1)[1].split("</tr>", 1)[0])
    col = {h: i for i, h in enumerate(header)}
    got = sorted((int(r[col["member"]]), r[col["t_grok"]], r[col["censored"]]) for r in rows)
    want = [(m, "-" if t is None else str(t), "yes" if t is None else "no") for m, t in enumerate(T_GROK)]
    assert got == want


def test_sweep_report_cells_match_the_synthetic_events(tmp_path: Path) -> None:
    root = write_sweep(tmp_path / "sw")
    page = write_report(root, tmp_path / "out").read_text()
    rows = table_rows(page, "Cells")
    # write_sweep: wd 0.3 never groks; wd 1.0: p 31 never (1500, 3000 > budget), p 43 [None, 500];
    # wd 3.0: p 31 [500, 1000], p 43 [None, 500]
    want = {(0.3, 31): ("0", "censored (> 1000)"), (0.3, 43): ("0", "censored (> 1000)"),
            (1.0, 31): ("0", "censored (> 1000)"), (1.0, 43): ("1", "censored (> 1000)"),
            (3.0, 31): ("2", "750"), (3.0, 43): ("1", "censored (> 1000)")}
    got = {(float(r[1]), int(r[2])): (r[4], r[6]) for r in rows}
    assert got == want
    assert re.search(r"\b12 members:\s+4 grokked, 8 censored\b", page)

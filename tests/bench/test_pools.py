"""The shipped pool specs expand to valid sweeps of the shape issue 14 asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from grokscope.bench.pool import family_specs, load_spec
from grokscope.errors import UserError
from grokscope.sweep.spec import load_spec as load_sweep


@pytest.mark.parametrize("name", ["quick", "paper"])
def test_shipped_pools_expand(name: str) -> None:
    spec = load_spec(name)
    tasks, models, members = set(), set(), 0
    for fam in family_specs(spec):
        plan = load_sweep(fam)
        members += len(plan.cells)
        tasks.add((fam["base"]["task"]["name"], fam["base"]["task"].get("op")))
        models.add(fam["base"]["model"]["name"])
        steps = fam["base"]["train"]["steps"]
        assert fam["base"]["checkpoint"]["at"] == sorted({round(q * steps) for q in spec["questions"]})
        assert "update_gram" in fam["base"]["eval"]["probes"] and "graph" in fam["base"]["eval"]["probes"]
    assert len(tasks) >= 4 and len(models) >= 2  # modular add and mul, parity, S_n; MLP and transformer
    assert members >= 100


def test_bad_pool_specs_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    with pytest.raises(UserError, match="no \\[\\[family\\]\\]"):
        load_spec(bad)
    bad.write_text('questions = [1.5]\n[[family]]\nname = "a"\n')
    with pytest.raises(UserError, match="fractions"):
        load_spec(bad)
    bad.write_text("[[family\n")
    with pytest.raises(UserError, match="bad pool spec"):
        load_spec(bad)

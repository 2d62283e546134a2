"""The Stan twin's exporter (benchmarks/stan_twin/export.py): the data it hands Stan.

No Stan needed: the data block of ``survival.stan`` is parsed and every declared variable is
checked for presence, shape and index bounds, and the exported numbers are checked against
the design they come from. (The posterior agreement itself is ``benchmarks/compare_stan.py``.)
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from stan_twin import export  # noqa: E402

DECL = re.compile(r"^\s*(?:array\[([^\]]+)\]\s+)?(int|real|vector|matrix)(<[^>]*>)?(?:\[([^\]]+)\])?\s+(\w+);")


@pytest.fixture(scope="module")
def design_and_data():
    from rhcc_bayes.synthesis import Synthesis

    syn = Synthesis("default")
    return syn.design, syn.spec, export.stan_data(syn.design, syn.spec)


def data_block() -> list[tuple]:
    text = export.program_code()
    block = text[text.index("\ndata {"):text.index("\ntransformed data {")]
    return [m.groups() for line in block.splitlines() if (m := DECL.match(line.split("//")[0]))]


def test_every_declared_variable_is_exported_with_its_shape_and_bounds(design_and_data):
    _, _, data = design_and_data
    decls = data_block()
    assert {d[4] for d in decls} == set(data)  # nothing missing, nothing extra
    for array_dims, _, bounds, dims, name in decls:
        size = [eval(e, {}, dict(data)) for part in (array_dims, dims) if part for e in part.split(",")]
        value = np.asarray(data[name], dtype=float)
        if 0 in size:
            assert value.size == 0, name
            continue
        assert list(value.shape) == size, name
        for key, op in (("lower", np.greater_equal), ("upper", np.less_equal)):
            if bounds and (m := re.search(rf"{key}=([\w.+\-]+)", bounds)):
                limit = eval(m.group(1), {}, dict(data))
                assert op(value, limit).all(), (name, key, limit)


def test_exported_numbers_are_the_designs(design_and_data):
    design, _, data = design_and_data
    lm = design.landmarks
    known = lm[lm["latent"] < 0]
    assert data["lm_deaths"] == known["deaths"].astype(int).tolist()
    assert data["lm_arm"] == (known["arm_index"] + 1).tolist()
    # exposure in each segment (0-12, 12-36, 36-60, 60+) of a 12 -> 36 month interval
    row = known.reset_index(drop=True).index[(known["t_prev"] == 12).to_numpy() & (known["t"] == 36).to_numpy()][0]
    assert data["lm_dexp"][row] == [0.0, 24.0, 0.0, 0.0]
    # bundled evidence: 3 Dirichlet shares of yang_97's 103 patients, 5 lognormal latent sizes
    assert sorted(data["lat_kind"]) == [0, 0, 0, 1, 1, 1, 1, 1]
    assert data["group_total"] == [103.0] and data["K"] == 3 and data["N_lognormal"] == 5
    # every HR is a pooled contrast: sigma_study^2 added to its variance
    assert data["hr_add"] == [1.0] * len(design.hazard_ratios)
    # ref_54's pooled landmark has no n: it reads the latent n of that pseudo-arm
    pl = design.pooled_landmarks
    assert data["pl_latent"] == [int(v) + 1 if v >= 0 else 0 for v in pl["latent"]]
    assert data["pl_x"] == pytest.approx(np.log(-np.log(pl["estimate"].to_numpy(float))).tolist())
    # secondary study effects: one block per outcome, studies in first-appearance order
    sec = design.secondary
    assert data["N_sec_study"] == sum(sec.groupby("outcome")["study_index"].nunique())
    for o in range(1, data["O"] + 1):
        flat = [s for s, oo in zip(data["sec_study"], data["sec_outcome"]) if oo == o]
        assert sorted(set(flat)) == list(range(min(flat), max(flat) + 1))
    assert (np.asarray(data["sec_latent"]) > 0).sum() == (sec["latent"] >= 0).sum()


def test_shared_parameter_table_names_existing_pymc_variables(design_and_data):
    design, spec, _ = design_and_data
    from rhcc_bayes.survival.model import build_survival_model

    model = build_survival_model(design, spec)
    dims = model.named_vars_to_dims
    shapes = {v.name: tuple(len(model.coords[d]) for d in dims.get(v.name, ()))
              for v in [*model.free_RVs, *model.deterministics]}
    for label, (name, index), _ in export.shared_parameters(design):
        assert name in shapes, label
        assert len(index) == len(shapes[name]) and all(i < n for i, n in zip(index, shapes[name])), label


def test_refuses_model_options_it_does_not_reproduce(design_and_data):
    design, spec, _ = design_and_data
    with pytest.raises(ValueError, match=r"does not cover: arm_heterogeneity = true"):
        export.stan_data(design, dataclasses.replace(spec, arm_heterogeneity=True))
    with pytest.raises(ValueError, match=r"hazard = 'weibull'"):
        export.check_supported(design, dataclasses.replace(spec, hazard="weibull"))
    from rhcc_bayes.survival.holdout import hold_out

    with pytest.raises(ValueError, match=r"held-out studies"):
        export.check_supported(hold_out(design, ["ref_37"]), spec)

"""IPD in the design: arms, covariate coding, summaries replaced (and kept as checks), exact aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.survival.covariates import COVARIATES
from rhcc_bayes.survival.ipd import CHECK_REASON, segment_cells
from rhcc_bayes.synthesis import Synthesis

HEADER = "study,arm,treatment,time_months,event,tumour_size_cm,nodules,months_since_treatment,prior_treatment\n"


def _ipd(tmp_path, rows: str, name="ipd.csv"):
    p = tmp_path / name
    p.write_text(HEADER + rows)
    return p


@pytest.fixture(scope="module")
def base():
    return Synthesis("default")


def test_new_study_arm_and_patient_levels(tmp_path, base):
    path = _ipd(tmp_path, "REG,A,RFA,10,1,2.5,1,20,resection\nREG,A,RFA,30,0,4,3,5,transplant\n"
                          "REG,A,RFA,40,0,7,,,\nREG,B,TACE,5,1,,2,,\n")
    s = Synthesis("default", ipd=path)
    d = s.design
    assert len(d.arms) == len(base.design.arms) + 2
    assert d.studies[-1] == "REG" and "REG" not in base.design.studies
    new = d.arms.iloc[-2:]
    assert new["level"].tolist() == ["study", "study"] and (new["s_index"] == d.studies.index("REG")).all()
    assert (new[list(COVARIATES)] == "nr").all().all()  # the patients carry the levels
    rows = d.ipd.rows.sort_values("time")
    assert rows[["size_band", "nodularity", "recurrence", "prior"]].values.tolist() == [
        ["nr", "multinodular", "nr", "nr"],  # 5 months, TACE
        ["le3", "solitary", "late", "nr"],  # 10 months, after resection: the reference
        ["3to5", "multinodular", "early", "transplant"],  # 30 months
        ["gt5", "nr", "nr", "nr"]]  # 40 months, size only
    assert d.ipd.patients == 4 and d.ipd.checks.empty
    # the likelihood of the summaries is untouched
    assert len(d.landmarks) == len(base.design.landmarks) and len(d.used) == len(base.design.used)


def test_ipd_wins_over_the_summaries_of_its_arm(tmp_path, base):
    times = np.linspace(1, 70, 37)
    rows = "".join(f"ref_37,SALVAGE-LT,SALVAGE-LT,{t:.2f},{int(i % 5 == 0)},,,,\n" for i, t in enumerate(times))
    d = Synthesis("default", ipd=_ipd(tmp_path, rows)).design
    arm = base.design.arms.index[(base.design.arms["study"] == "ref_37")
                                 & (base.design.arms["arm"] == "SALVAGE-LT")][0]
    assert len(d.arms) == len(base.design.arms)  # the existing arm is reused, with its study effect
    assert d.ipd.arms["arm_index"].tolist() == [arm] and d.ipd.arms["replaces"].tolist() == [True]
    old = base.design.landmarks[base.design.landmarks["arm_index"] == arm]
    assert len(old) == 3 and not (d.landmarks["arm_index"] == arm).any()
    assert len(d.landmarks) == len(base.design.landmarks) - 3
    dropped = d.excluded[d.excluded["reason"] == CHECK_REASON]
    assert set(dropped["row_key"]) == set(old["row_key"])
    checks = d.ipd.checks.set_index("row_key").loc[old["row_key"]]
    assert checks["measure"].eq("survival").all() and checks["reported"].notna().all()
    # the check shows the IPD's Kaplan-Meier at the reported time: 1 death in 5, spread evenly
    assert checks["ipd"].between(0.6, 1.0).all()
    # the other arm of the study keeps its summaries
    other = base.design.arms.index[(base.design.arms["study"] == "ref_37") & (base.design.arms["arm"] == "MIXED-LRT")][0]
    assert (d.landmarks["arm_index"] == other).sum() == 3


def test_errors_name_the_file(tmp_path):
    path = _ipd(tmp_path, "ref_37,SALVAGE-LT,RFA,10,1,,,,\n")
    with pytest.raises(UserError, match="ipd.csv: study 'ref_37' arm 'SALVAGE-LT' has treatment 'RFA', but the "
                                        "evidence gives this arm treatment 'SALVAGE-LT'"):
        Synthesis("default", ipd=path).design
    with pytest.raises(UserError, match="the 'mspline' hazard family of spec 'mspline' has no patient-level "
                                        "likelihood yet; IPD works with the families piecewise, weibull"):
        Synthesis("mspline", ipd=_ipd(tmp_path, "REG,A,RFA,10,1,,,,\n", "b.csv")).design


def test_cache_key_includes_ipd(tmp_path, base):
    a = _ipd(tmp_path, "REG,A,RFA,10,1,,,,\n", "a.csv")
    b = _ipd(tmp_path, "REG,A,RFA,11,1,,,,\n", "b.csv")
    keys = {Synthesis("default", ipd=p).cache_key(1) for p in (a, b)}
    assert len(keys) == 2 and base.cache_key(1) not in keys
    assert Synthesis("default", ipd=None).cache_key(1) == base.cache_key(1)  # runs without IPD keep their key


def test_segment_cells_give_the_exact_patient_likelihood():
    """sum over cells of D (g + th) - exp(g + th) E equals sum over patients of d log h(t) - H(t)."""
    rng = np.random.default_rng(3)
    n = 400
    cuts = np.array([0.0, 12.0, 36.0, 60.0, np.inf])
    rows = pd.DataFrame({"arm_index": rng.integers(0, 3, n), **{c: "nr" for c in COVARIATES},
                         "time": np.round(rng.uniform(0.5, 80, n), 1), "event": rng.integers(0, 2, n)})
    rows.loc[rows.index[:60], "time"] = 12.0  # deaths exactly at a cut belong to the segment that ends there
    rows["size_band"] = rng.choice(["le3", "gt5", "nr"], n)
    agg = rows.groupby(["arm_index", *COVARIATES, "time", "event"]).size().rename("weight").reset_index()
    agg["t_index"] = agg["arm_index"]
    cells = segment_cells(agg, cuts)
    assert len(cells) < n  # cost grows with groups x segments, not patients
    gamma = np.array([-3.5, -3.9, -4.1, -4.3])
    theta = {a: v for a, v in enumerate([0.2, -0.3, 0.5])}
    size_eff = {"le3": -0.2, "gt5": 0.4, "nr": 0.0}
    th_c = cells["arm_index"].map(theta) + cells["size_band"].map(size_eff)
    lh = gamma[cells["segment"]] + th_c
    ll_cells = float(np.sum(cells["deaths"] * lh - np.exp(lh) * cells["exposure"]))
    th_p = rows["arm_index"].map(theta) + rows["size_band"].map(size_eff)
    seg = np.searchsorted(cuts, rows["time"], side="left") - 1
    expo = np.clip(np.minimum(rows["time"].to_numpy()[:, None], cuts[1:]) - cuts[:-1], 0, None)
    big_h = np.exp(th_p.to_numpy()) * (expo @ np.exp(gamma))
    ll_pat = float(np.sum(rows["event"] * (gamma[seg] + th_p) - big_h))
    assert ll_cells == pytest.approx(ll_pat, rel=1e-10)
    assert cells["deaths"].sum() == rows["event"].sum()


def test_decisions_see_the_levels_the_patients_report(tmp_path, base):
    """Arm records for decisions: an IPD arm is one record per covariate pattern of its patients,
    so "no arm reports this level" is not said of levels the patients report."""
    from rhcc_bayes.survival.covariates import reported_levels
    from rhcc_bayes.survival.support import arm_support

    path = _ipd(tmp_path, "REG,A,RFA,10,1,2.5,1,20,resection\nREG,A,RFA,30,0,2.8,1,25,resection\n"
                          "REG,A,RFA,40,0,7,,,\n")
    records = arm_support(Synthesis("default", ipd=path).design)
    reg = records[records["study"] == "REG"]
    assert reg["n"].tolist() == [1.0, 2.0]  # gt5 (size only) and le3/solitary/late (after resection: nr)
    assert reg["size_max_cm"].tolist()[1] == 3.0 and reg["size_min_cm"].tolist()[0] == 5.0
    profile = {"size_band": "le3", "nodularity": "solitary", "recurrence": "late", "prior": "nr"}
    _, notes_base = reported_levels(profile, arm_support(base.design).to_dict(orient="records"))
    _, notes_ipd = reported_levels(profile, records.to_dict(orient="records"))
    assert any("<= 3 cm: no arm reports" in n for n in notes_base)
    assert notes_ipd == []

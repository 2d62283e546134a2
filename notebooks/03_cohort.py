# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Cohort decisions
#
# Decide for every patient of `examples/cohort.csv` at once. Profiles sharing model
# covariates and candidate set are evaluated once, so a cohort costs little more than
# a handful of profiles.

# %%
import os
import time

from rhcc_bayes.decision.recommend import decide_cohort_table
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.core.paths import default_cache_dir, project_root
from rhcc_bayes.decision.profile import load_cohort
from rhcc_bayes.specs import load_spec
from rhcc_bayes.synthesis import fit_synthesis

SPEC = os.environ.get("RHCC_NB_SPEC", "default")
fit = fit_synthesis(load_evidence(), load_spec(SPEC), cache_dir=default_cache_dir(), allow_unconverged=True)
print(fit.gate)  # a fit that fails the gate is flagged in every output (gate_warning column)
cohort = load_cohort(project_root() / "examples" / "cohort.csv")
cohort.to_frame().head()

# %%
t0 = time.perf_counter()
table = decide_cohort_table(fit.idata, cohort, horizon=60, design=fit.design)
print(f"{len(table)} rows for {len(cohort)} patients in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## The best candidate per patient, with its probability of being best
#
# Excluded treatments stay in the table (status `excluded`, no decision numbers); pooled
# mixtures (MIXED-LRT, ABLATION) are reported but never ranked (`ranked` False).

# %%
cand = table[table["ranked"]]
best = cand.loc[cand.groupby("profile")["rmst_mean"].idxmax()]
best[["profile", "treatment", "modality", "status", "rmst_mean", "rmst_lo", "rmst_hi", "p_best",
      "modality_p_best", "evpi", "class_prior_only", "extrapolation"]].round(2)

# %% [markdown]
# ## How often each treatment is excluded, and how often the best option is an extrapolation

# %%
print(table.groupby("treatment")["status"].value_counts().unstack(fill_value=0))
print("best option flagged as extrapolation:", f"{best['extrapolation'].mean():.0%}")

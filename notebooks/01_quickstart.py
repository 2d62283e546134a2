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
# # Quickstart: evidence → posterior → decision → plots
#
# Loads the bundled evidence, fits (or loads the cached) default synthesis, decides for
# one patient profile and draws the main figures. Set `RHCC_NB_SPEC` to use another spec
# (the tests use a lighter sampler) and `RHCC_BAYES_CACHE` for the posterior cache.

# %%
import os

import arviz as az

from rhcc_bayes.core.paths import default_cache_dir, project_root
from rhcc_bayes.decision.profile import load_profile
from rhcc_bayes.report import figures as plots
from rhcc_bayes.synthesis import Synthesis

SPEC = os.environ.get("RHCC_NB_SPEC", "default")
# allow_unconverged=True continues with a fit that fails the gate: the verdict is printed
# here first, and every output of such a fit carries a loud warning
fit = Synthesis(SPEC).fit(cache_dir=default_cache_dir(), allow_unconverged=True)  # bundled evidence
print(fit.gate)
if not fit.gate.passed:
    print("WARNING: this fit FAILED the diagnostics gate; treat every number below as unreliable")
print("cache hit:", fit.cache_hit)

# %% [markdown]
# `fit.idata` is an `arviz.InferenceData` (fresh fit or cache hit): the usual ArviZ tools apply.

# %%
az.summary(fit.idata, var_names=["mu", "sigma_study"]).head(8)

# %% [markdown]
# ## A patient profile and the decision

# %%
profile = load_profile(project_root() / "examples" / "profiles" / "small_solitary_late.toml")
result = fit.decide(profile, horizon=60)
print(result.to_text())

# %% [markdown]
# The full table has every number with its 95% credible interval; `result.survival`
# holds the draws (dims chain, draw, treatment, time).

# %%
result.table[["treatment", "modality", "status", "rmst_mean", "rmst_lo", "rmst_hi", "p_best", "expected_loss",
              "modality_p_best", "arms", "class_prior_only", "extrapolation"]].round(2)

# %% [markdown]
# The decision between modality classes (a class is worth its best option in each draw):

# %%
result.modality_table.round(2)

# %%
result.survival

# %% [markdown]
# ## Figures

# %%
fig = plots.survival_curves(result)  # the leading options, one panel each

# %%
fig = plots.rmst_densities(result)

# %%
fig = plots.evidence_map(fit.design)

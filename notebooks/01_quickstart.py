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
import warnings

from rhcc_bayes.decision.recommend import decide_profile
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.core.paths import default_cache_dir, project_root
from rhcc_bayes.decision.profile import load_profile
from rhcc_bayes.specs import load_spec
from rhcc_bayes.synthesis import fit_synthesis
from rhcc_bayes.report import figures as plots

SPEC = os.environ.get("RHCC_NB_SPEC", "default")
evidence = load_evidence()
spec = load_spec(SPEC)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit = fit_synthesis(evidence, spec, cache_dir=default_cache_dir(), allow_unconverged=True)
print(fit.gate)
print("cache hit:", fit.cache_hit)

# %% [markdown]
# ## A patient profile and the decision

# %%
profile = load_profile(project_root() / "examples" / "profiles" / "small_solitary_late.toml")
result = decide_profile(fit.idata, profile, horizon=60, design=fit.design)
print(result.to_text())

# %% [markdown]
# The full table has every number with its 95% credible interval; `result.survival`
# holds the draws (dims chain, draw, treatment, time).

# %%
result.table[["treatment", "status", "rmst_mean", "rmst_lo", "rmst_hi", "p_best", "expected_loss", "arms",
              "class_prior_only", "extrapolation"]].round(2)

# %%
result.survival

# %% [markdown]
# ## Figures

# %%
plots.survival_curves(result)

# %%
plots.rmst_densities(result)

# %%
plots.evidence_map(fit.design)

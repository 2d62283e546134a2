"""The one entry object: ``Synthesis(spec, evidence).fit(cache_dir=...)`` -> :class:`SynthesisPosterior`.

Both model families go through it: the R-HCC survival synthesis (``family = "survival"``)
and standard network meta-analyses (``family = "nma"``). Modules: ``inputs`` (spec/evidence coercion, canonical spec), ``entry`` (:class:`Synthesis`
and the thin wrappers), ``posterior`` (:class:`SynthesisPosterior`). The stages are plain functions
of the stage packages (``survival.design.make_design`` -> ``survival.model.build_survival_model``
or ``nma.model.build_nma_model`` -> ``inference.sampling.sample`` -> metadata -> diagnostics
gate -> ``inference.cache``); this module only orchestrates them.

>>> post = Synthesis("default").fit(cache_dir=".rhcc_cache")       # doctest: +SKIP
>>> az.summary(post.idata, var_names=["mu"])                        # a real arviz.InferenceData
>>> post.decide(load_profile("examples/profiles/small_solitary_late.toml")).to_text()

:func:`fit_synthesis` and :func:`run_nma` are thin wrappers kept for existing callers.
"""

from rhcc_bayes.synthesis.entry import Synthesis, build_model, fit_synthesis, run_nma
from rhcc_bayes.synthesis.inputs import (
           GATED_DETERMINISTICS,
           canonical_spec,
           gate_var_names,
)
from rhcc_bayes.synthesis.posterior import FitResult, SynthesisPosterior

__all__ = [
           "GATED_DETERMINISTICS",
           "FitResult",
           "Synthesis",
           "SynthesisPosterior",
           "build_model",
           "canonical_spec",
           "fit_synthesis",
           "gate_var_names",
           "run_nma",
]

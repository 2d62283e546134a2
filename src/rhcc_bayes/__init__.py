"""rhcc_bayes: Bayesian synthesis of salvage-treatment evidence for recurrent HCC.

The entry point is :class:`rhcc_bayes.Synthesis`::

    from rhcc_bayes import Synthesis
    post = Synthesis("default").fit(cache_dir=".rhcc_cache")   # post.idata: arviz.InferenceData

Heavy libraries (PyMC, ArviZ) are imported lazily by the stage modules so that
``rhcc-bayes --help`` and evidence validation stay fast; ``Synthesis`` itself is
imported on first use.
"""

__version__ = "0.1.0"

_LAZY = {"Synthesis": "rhcc_bayes.synthesis", "SynthesisPosterior": "rhcc_bayes.synthesis"}
__all__ = ["Synthesis", "SynthesisPosterior", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rhcc_bayes' has no attribute {name!r}")

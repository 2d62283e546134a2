"""The network meta-analysis model's declared version, part of every NMA cache key.

Bump ``MODEL_VERSION`` by hand with any change to :mod:`rhcc_bayes.nma.model` or
:mod:`rhcc_bayes.nma.data` that changes the posterior.
"""

MODEL_VERSION = "nma-2026.11.30"

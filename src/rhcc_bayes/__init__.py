"""rhcc_bayes: Bayesian synthesis of salvage-treatment evidence for recurrent HCC.

Heavy libraries (PyMC, ArviZ) are imported lazily by the stage modules so that
``rhcc-bayes --help`` and evidence validation stay fast.
"""

__version__ = "0.1.0"

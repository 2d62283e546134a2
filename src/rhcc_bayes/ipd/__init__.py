"""Individual patient data (IPD): Kaplan–Meier reconstruction (Guyot et al. 2012) and IPD tables.

Layer: above ``evidence`` (treatment codes come from its taxonomy), below ``survival``
(:mod:`rhcc_bayes.survival.ipd` puts IPD in the likelihood).
"""

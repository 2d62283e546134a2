"""Baseline hazard families behind one interface (:class:`~.base.HazardFamily`).

``FAMILIES`` maps the spec's ``[model] hazard`` name to the family class, in the spirit
of multinma's table of survival prediction functions. Adding a family is one new module
(a ``HazardFamily`` subclass) plus one entry here; the model builder, the likelihood,
the diagnostics gate, predictions, decisions and reports all go through the table.
"""

from __future__ import annotations

from rhcc_bayes.survival.hazards.base import BoundHazard, HazardFamily
from rhcc_bayes.survival.hazards.cure import Cure
from rhcc_bayes.survival.hazards.mspline import MSpline
from rhcc_bayes.survival.hazards.piecewise import Piecewise
from rhcc_bayes.survival.hazards.weibull import Weibull

FAMILIES: dict[str, type[HazardFamily]] = {
    "piecewise": Piecewise,
    "weibull": Weibull,
    "mspline": MSpline,
    "cure": Cure,
}


def family_for(spec, design) -> HazardFamily:
    """The configured family of a survival spec on a design (at model build time)."""
    return FAMILIES[spec.hazard].from_design(spec, design)


def family_from_idata(idata) -> HazardFamily:
    """The configured family of a survival posterior, from what it stores (attrs ``hazard``)."""
    name = str(getattr(idata, "attrs", {}).get("hazard", "piecewise"))
    if name not in FAMILIES:
        raise ValueError(f"posterior has unknown hazard family {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name].from_idata(idata)


__all__ = ["FAMILIES", "BoundHazard", "HazardFamily", "family_for", "family_from_idata"]

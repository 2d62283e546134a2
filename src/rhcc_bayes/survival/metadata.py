"""What post-processing needs, stored inside the posterior file itself (no side files).

``constant_data`` gets the treatment structure and segment cuts, ``attrs`` the spec and
evidence identity and the per-treatment evidence support, so a cached ``.nc`` alone is
enough for decisions.
"""

from __future__ import annotations

import json

import numpy as np

from rhcc_bayes.survival.design import SurvivalDesign
from rhcc_bayes.survival.hazards import family_for
from rhcc_bayes.survival.hazards.mspline import observed_times
from rhcc_bayes.survival.spec import SurvivalSpec
from rhcc_bayes.survival.support import attach_support


def attach_metadata(idata, design: SurvivalDesign, spec: SurvivalSpec, evidence_hash: str):
    """Store what post-processing needs in the posterior file itself (no side files).

    ``constant_data`` gets the treatment structure and segment cuts, so that a cached
    ``.nc`` is enough for decisions; ``attrs`` get the spec and evidence identity.
    """
    import xarray as xr

    st = design.structure
    extra = xr.Dataset(
        {
            "treatment_modality": ("treatment", np.array([st.modalities[i] for i in st.class_index], dtype=object)),
            "is_ablation": ("treatment", st.is_ablation.astype(np.int64)),
            "cuts": ("cut", np.where(np.isinf(design.cuts), -1.0, design.cuts)),  # -1 encodes +inf (netCDF-safe)
        },
        coords={"treatment": list(st.treatments), "cut": np.arange(len(design.cuts))},
    )
    family = family_for(spec, design)
    family_data, family_attrs = family.metadata()
    for name, (dim, values) in family_data.items():  # e.g. the spline knots; a family's own cuts win
        extra = extra.drop_vars(name, errors="ignore").drop_dims(dim, errors="ignore")
        extra[name] = (dim, np.asarray(values))
    if "constant_data" in idata.groups():
        idata.constant_data = idata.constant_data.merge(extra)
    else:
        idata.add_groups(constant_data=extra)
    attach_support(idata, design)  # evidence counts per treatment travel with the posterior file
    idata.attrs.update({
        "family": "survival",
        "spec_name": spec.name,
        "spec_hash": spec.hash,
        "spec_json": json.dumps(spec.to_dict(), sort_keys=True, default=str),
        "evidence_hash": evidence_hash,
        "hazard": spec.hazard,
        **family_attrs,
        # extrapolation is explicit: decisions flag every time beyond this one
        "last_observed_months": last_observed_time(design),
        "n_arms": int(len(design.arms)),
        "n_studies": int(len(design.studies)),
    })
    return idata


def cuts_from(idata) -> np.ndarray:
    """Segment boundaries stored by :func:`attach_metadata` (with +inf restored)."""
    cuts = np.asarray(idata.constant_data["cuts"].values, dtype=float)
    return np.where(cuts < 0, np.inf, cuts)


def last_observed_time(design: SurvivalDesign) -> float:
    """The latest time (months) at which the design's evidence reports survival; nan if none."""
    times = observed_times(design)
    return float(times.max()) if len(times) else float("nan")

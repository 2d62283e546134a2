"""Held-out studies: the full evidence's design with some studies' likelihood rows weighted 0.

Leave-one-study-out validation and influence analyses refit the synthesis without one study
at a time. Dropping the study's rows from the evidence changes the model's graph (arm indices,
shapes, the constants the builder writes), and a changed graph is a new compile: ~184 s per
fold on the default spec (``benchmarks/holdout.py``). Weighting the rows 0 instead keeps the full evidence's graph; only
the values of data containers change, so every fold reuses the compiled model
(:mod:`rhcc_bayes.inference.compile_index` keys data containers by shape).

Each likelihood block removes a row of weight 0 exactly (:mod:`~rhcc_bayes.survival.likelihood`):

* binomial counts get ``n = 0`` and 0 events: log density exactly 0, gradient 0;
* normal observations (log median with CI, log HR, length of stay) become their own mean with a
  fixed scale: a constant log density, gradient 0;
* potentials (latent-n landmarks and medians, pooled landmarks, ranges, latent-n secondary
  proportions) multiply each row's term by its weight;
* IPD cells and rows of a held-out arm get weight 0 (they stay in their containers: same bucket).

No likelihood term involves the held-out studies' own parameters (study effects, latent arm
sizes) any more, so the posterior is that of the evidence without the studies. Two things
stay as the full evidence set them, and would differ in a refit on the reduced table: the
parameterisation chosen from the design (exact reparameterisations of one model, e.g.
:mod:`~rhcc_bayes.survival.shift`), and the row selection. Under ``overlap = "constituents"``
(the default) a pooled result that includes a held-out study is out of the likelihood either
way; under ``overlap = "pooled"`` the constituents a held-out pooled result displaced stay out.
The lognormal prior of unreported arm sizes is fitted to every reported n, the held-out
study's included (its n, not its outcomes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.survival.design import SurvivalDesign

#: Row tables of the design whose rows name their arm (``arm_index``), hence their study.
ARM_TABLES = ("landmarks", "medians", "hazard_ratios", "ranges", "pooled_landmarks")
#: Every likelihood table of the design (each row has the ``row_key`` of its evidence row).
LIKELIHOOD_TABLES = (*ARM_TABLES, "secondary", "stay")


def with_pooled_results(evidence, studies: Iterable[str]) -> tuple[str, ...]:
    """``studies`` plus every pooled result of ``evidence`` that includes one of them.

    Holding out a study must hold out the meta-analyses it is a constituent of, or its
    patients leak back through them (``Evidence.included_studies``).
    """
    studies = tuple(dict.fromkeys(studies))
    included = evidence.included_studies() if hasattr(evidence, "included_studies") else {}
    return tuple(dict.fromkeys([*studies, *_pooled_including(included, studies)]))


def _pooled_including(included: dict, studies) -> list[str]:
    return [p for p, members in included.items() if set(members) & set(studies)]


def row_weights(rows: pd.DataFrame) -> np.ndarray:
    """Per-row likelihood weight of a design table: its ``weight`` column (0 or 1), else all 1."""
    if "weight" in rows:
        return rows["weight"].to_numpy(float)
    return np.ones(len(rows))


def check_known_studies(design: SurvivalDesign, studies: tuple[str, ...]) -> None:
    """Every held-out name must be a study with rows in the design's likelihood."""
    known = set(design.used["study"]) if "study" in design.used else set()
    if design.ipd is not None:
        known |= set(design.ipd.arms["study"])
    unknown = [s for s in studies if s not in known]
    if unknown:
        raise UserError(f"held-out studies not in the likelihood: {', '.join(map(repr, unknown))} "
                        f"(studies with rows in it: {', '.join(sorted(known)) or 'none'})")


def hold_out(design: SurvivalDesign, studies: Iterable[str], included: dict | None = None) -> SurvivalDesign:
    """A new design whose rows of ``studies`` have weight 0 (every other row weight 1).

    Parameters
    ----------
    design : SurvivalDesign
        The design of the full evidence (:func:`~rhcc_bayes.survival.design.make_design`).
    studies : iterable of str
        Study names as in the evidence's ``study`` column, each with rows in the likelihood.
    included : dict, optional
        Pooled study -> the studies it includes (``Evidence.included_studies()``): the pooled
        results that include a held-out study are held out with it.

    Returns
    -------
    SurvivalDesign
        Same rows, arms and shapes; a ``weight`` column on every likelihood table, and
        ``how`` of the held-out rows in ``design.used`` prefixed with "held out".

    Raises
    ------
    UserError
        A name that is not a study of the design's likelihood.
    """
    studies = tuple(dict.fromkeys(studies))
    check_known_studies(design, studies)
    held = set(studies) | set(_pooled_including(included or {}, studies))
    study_of = design.used.set_index("row_key")["study"]  # every likelihood row is a used row
    changes = {}
    for name in LIKELIHOOD_TABLES:
        rows = getattr(design, name)
        out = rows["row_key"].map(study_of).isin(held).to_numpy()
        changes[name] = rows.assign(weight=np.where(out, 0.0, 1.0))
    used = design.used.copy()
    mask = used["study"].isin(held)
    used.loc[mask, "how"] = "held out (weight 0): " + used.loc[mask, "how"].astype(str)
    changes["used"] = used
    if design.ipd is not None:  # IPD rows are patients, not evidence rows: held out by arm
        rows = design.ipd.rows
        arm_out = design.arms["study"].isin(held).to_numpy()
        changes["ipd"] = dataclasses.replace(design.ipd, rows=rows.assign(keep=~arm_out[rows["arm_index"].to_numpy(int)]))
    return dataclasses.replace(design, **changes)


def held_out_studies(design: SurvivalDesign) -> tuple[str, ...]:
    """Studies whose rows have weight 0 in ``design``, in evidence order (empty for an ordinary design)."""
    zero = set()
    for name in LIKELIHOOD_TABLES:
        rows = getattr(design, name)
        zero |= set(rows.loc[row_weights(rows) == 0, "row_key"])
    used = design.used
    names = used.loc[used["row_key"].isin(zero), "study"].tolist() if len(used) else []
    if design.ipd is not None and "keep" in design.ipd.rows:
        rows = design.ipd.rows
        names += design.arms["study"].to_numpy()[rows.loc[~rows["keep"].to_numpy(bool), "arm_index"]].tolist()
    return tuple(dict.fromkeys(names))

"""Inputs of a synthesis: spec and evidence in any accepted form, the canonical spec for the cache key."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.specs import is_nma

GATED_DETERMINISTICS = ("mu",)  # plus the parameters of the posterior's hazard family


def as_spec(spec):
    from rhcc_bayes.specs import load_spec, parse_spec

    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    if isinstance(spec, Mapping):
        return parse_spec(dict(spec), "<mapping>")
    if hasattr(spec, "sampler") and hasattr(spec, "seed"):
        return spec
    raise TypeError(f"spec must be a bundled spec name, a TOML path, a mapping or a spec object, "
                    f"not {type(spec).__name__}")


def as_evidence(evidence, spec):
    """Evidence object from None (bundled), a path, several paths, an Evidence or (NMA) a DataFrame."""
    import pandas as pd

    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence

    if hasattr(evidence, "table") and hasattr(evidence, "hash"):
        return evidence
    if isinstance(evidence, pd.DataFrame):
        if not is_nma(spec):
            raise TypeError("a survival synthesis needs an Evidence (rhcc_bayes.evidence.table.load_evidence), "
                            "not a DataFrame")
        return evidence
    if evidence is None:
        if is_nma(spec):
            raise UserError(f"spec {spec.name!r} is a network meta-analysis: give its evidence file(s)")
        return load_evidence()
    if isinstance(evidence, (str, os.PathLike)):
        evidence = [evidence]
    if isinstance(evidence, Iterable):
        paths = [Path(p) for p in evidence]
        for p in paths:
            if not p.is_file():
                raise UserError(f"{p}: evidence file not found")
        return load_evidence(paths, taxonomy=OPEN_WORLD) if is_nma(spec) else load_evidence(paths)
    raise TypeError(f"evidence must be None, a path, paths or an Evidence, not {type(evidence).__name__}")


def as_ipd(ipd, evidence, spec):
    """IPD object from None, a path, several paths or an IPD (validated against the evidence's treatments)."""
    if ipd is None:
        return None
    if is_nma(spec):
        raise UserError(f"spec {spec.name!r} is a network meta-analysis: patient-level data (--ipd) enter "
                        "survival specs only")
    if hasattr(ipd, "table") and hasattr(ipd, "hash"):
        return ipd
    from rhcc_bayes.ipd.table import load_ipd

    if isinstance(ipd, (str, os.PathLike)):
        ipd = [ipd]
    if isinstance(ipd, Iterable):
        paths = [Path(p) for p in ipd]
        if not paths:
            return None
        return load_ipd(paths, taxonomy=evidence.taxonomy)
    raise TypeError(f"ipd must be None, a path, paths or an IPD, not {type(ipd).__name__}")


def data_hash(evidence, ipd=None, held_out=()) -> str:
    """Hash of everything the likelihood sees: the evidence, the IPD when given, the held-out
    studies when any (a run without them keeps its evidence hash, so cached fits stay valid)."""
    from rhcc_bayes.inference.cache import content_hash

    key = evidence_hash(evidence) if ipd is None else content_hash("evidence+ipd", evidence_hash(evidence), ipd.hash)
    return content_hash("held_out", key, sorted(held_out)) if held_out else key


def evidence_table(evidence):
    """(table, source) for the NMA engine."""
    import pandas as pd

    if isinstance(evidence, pd.DataFrame):
        return evidence, str(evidence.attrs.get("source", "<evidence>"))
    source = ", ".join(evidence.sources) or "<evidence>"
    table = evidence.table
    table.attrs["source"] = source
    return table, source


def evidence_hash(evidence) -> str:
    import pandas as pd

    from rhcc_bayes.inference.cache import content_hash

    if isinstance(evidence, pd.DataFrame):
        return content_hash("dataframe", evidence.to_csv(index=False))
    return evidence.hash


def _plain(obj):
    """A spec (frozen dataclasses, tuples, mapping proxies) as plain JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)
    return obj


def canonical_spec(spec) -> dict:
    """The validated spec as a canonical dict, without its file name (``source``)."""
    d = _plain(spec)
    d.pop("source", None)
    return d


def gate_var_names(idata) -> list[str]:
    """Free parameters plus the treatment-level deterministics users read."""
    from rhcc_bayes.inference.diagnostics import deterministic_names

    det = set(deterministic_names(idata))
    names = [str(v) for v in idata.posterior.data_vars if str(v) not in det]
    gated = list(GATED_DETERMINISTICS)
    if idata.attrs.get("family") == "survival":
        from rhcc_bayes.survival.hazards import family_from_idata

        gated += family_from_idata(idata).parameter_names  # what decisions read: gamma, spline_coef, ...
    return names + [v for v in dict.fromkeys(gated) if v in idata.posterior and v not in names]

"""Model specs of every family: find a TOML file, read it, dispatch on ``[model] family``.

``"survival"`` is the R-HCC arm-level survival synthesis (:mod:`rhcc_bayes.survival.spec`),
``"nma"`` a standard network meta-analysis (:mod:`rhcc_bayes.nma.spec`).
"""

from __future__ import annotations

from pathlib import Path

from rhcc_bayes.core.errors import UserError, did_you_mean
from rhcc_bayes.core.paths import models_dir
from rhcc_bayes.core.toml import read_toml
from rhcc_bayes.nma.spec import NMASpec, parse_nma_spec
from rhcc_bayes.survival.spec import SurvivalSpec, parse_survival_spec


def parse_spec(mapping: dict, source: str = "<memory>") -> SurvivalSpec | NMASpec:
    """Validate a spec mapping (as read from TOML) of either family and return the frozen spec.

    Raises
    ------
    ValidationError
        Listing every unknown key and bad value at once.
    """
    model = mapping.get("model")
    family = model.get("family", "survival") if isinstance(model, dict) else "survival"
    if family == "nma":
        return parse_nma_spec(mapping, source)
    return parse_survival_spec(mapping, source)


def is_nma(spec) -> bool:
    """Whether ``spec`` is a network meta-analysis spec (``[model] family = "nma"``)."""
    return not isinstance(spec, SurvivalSpec)


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A spec given as a path, or as the name of a bundled spec in ``models/``."""
    path = Path(name_or_path)
    if path.exists():
        return path
    bundled = models_dir() / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if bundled.exists():
        return bundled
    known = sorted(p.stem for p in models_dir().glob("*.toml"))
    raise UserError(f"{name_or_path}: no such spec file or bundled spec{did_you_mean(path.stem, known)}; bundled: {', '.join(known)}")


def load_spec(name_or_path: str | Path = "default"):
    """Read and validate a spec TOML file (bundled name like ``"default"`` or a path)."""
    path = resolve_spec_path(name_or_path)
    return parse_spec(read_toml(path, "spec"), str(path))

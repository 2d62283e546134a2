"""The convergence gate: no silent unconverged numbers.

Every fit is checked against fixed thresholds (rank-normalised split R-hat,
bulk and tail ESS, divergent transitions, E-BFMI). :func:`check_gate` only
measures; :func:`enforce_gate` decides: it raises :class:`ConvergenceError`, or,
when the user explicitly allows it, warns and stamps the failures into
``idata.attrs`` so that every downstream table, plot and report can repeat the
warning (the attrs survive the netCDF cache).

Which variables are checked
---------------------------
By default every posterior variable except deterministics. Deterministics are
functions of the free variables, so they add no convergence information, and
some (e.g. a survival probability pinned at 1 at t=0) have degenerate
R-hat/ESS that would trip the gate spuriously. Their names are read from
``idata.attrs["deterministics"]``, which :func:`rhcc_bayes.fit.sample` writes as
a JSON list; a comma-separated string or a list is accepted too. Pass
``var_names`` to check an explicit set instead.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rhcc_bayes.core.errors import UserError

if TYPE_CHECKING:
    import arviz as az

#: Failures listed in a :class:`ConvergenceError` message before "... and N more".
MAX_LISTED_FAILURES = 20


class ConvergenceError(UserError):
    """The posterior failed the diagnostics gate and the user did not allow it."""


class UnconvergedWarning(UserWarning):
    """The posterior failed the gate but the user chose to proceed."""


@dataclass(frozen=True)
class GateThresholds:
    """Limits every fit must meet (DESIGN.md section 6).

    Parameters
    ----------
    r_hat_max : float
        Largest acceptable rank-normalised split R-hat.
    ess_bulk_min, ess_tail_min : float
        Smallest acceptable bulk and tail effective sample sizes (whole run,
        all chains).
    divergences_max : int
        Largest acceptable number of divergent transitions after warm-up.
    bfmi_min : float
        Smallest acceptable E-BFMI of any chain; lower values mean the
        momentum resampling explores the energy distribution poorly
        (typically heavy tails or a funnel).
    """

    r_hat_max: float = 1.01
    ess_bulk_min: float = 400
    ess_tail_min: float = 400
    divergences_max: int = 0
    bfmi_min: float = 0.3


@dataclass(frozen=True)
class GateReport:
    """Outcome of :func:`check_gate`.

    Attributes
    ----------
    passed : bool
        True when there are no failures.
    failures : tuple of str
        One human-readable line per failing check, naming the parameter with
        its coordinates and the value, e.g. ``"r_hat 1.043 > 1.01 for mu[TACE]"``.
    summary : pandas.DataFrame
        One row per scalar parameter (index like ``"mu[TACE]"``) with columns
        ``r_hat``, ``ess_bulk``, ``ess_tail``.
    divergences : int
        Divergent transitions after warm-up, all chains.
    bfmi : tuple of float
        E-BFMI per chain.
    thresholds : GateThresholds
        The limits applied.
    """

    passed: bool
    failures: tuple[str, ...]
    summary: Any
    divergences: int
    bfmi: tuple[float, ...]
    thresholds: GateThresholds = GateThresholds()

    def __str__(self) -> str:
        if self.passed:
            return f"diagnostics gate passed ({len(self.summary)} parameters checked)"
        return "diagnostics gate FAILED:\n" + "\n".join(f"  {f}" for f in self.failures)


def deterministic_names(idata: az.InferenceData) -> list[str]:
    """Names listed in ``idata.attrs["deterministics"]`` (JSON list, CSV string or list)."""
    raw = idata.attrs.get("deterministics") if hasattr(idata, "attrs") else None
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.strip()
        if raw.startswith("["):
            return [str(n) for n in json.loads(raw)]
        return [n.strip() for n in raw.split(",") if n.strip()]
    return [str(n) for n in raw]


def check_gate(
    idata: az.InferenceData,
    var_names: list[str] | None = None,
    thresholds: GateThresholds = GateThresholds(),
) -> GateReport:
    """Measure convergence of ``idata`` against ``thresholds``.

    Parameters
    ----------
    idata : arviz.InferenceData
        Must have ``posterior``; ``sample_stats`` with ``diverging`` and
        ``energy`` is needed for the divergence and E-BFMI checks (missing
        statistics are reported as failures, never skipped silently).
    var_names : list of str, optional
        Variables to check; default all posterior variables except the
        deterministics named in ``idata.attrs["deterministics"]``.
    thresholds : GateThresholds

    Returns
    -------
    GateReport
    """
    import arviz as az
    import numpy as np

    if var_names is None:
        skip = set(deterministic_names(idata))
        var_names = [str(v) for v in idata.posterior.data_vars if str(v) not in skip]
    else:
        missing = [v for v in var_names if v not in idata.posterior]
        if missing:
            raise KeyError(f"not in the posterior: {', '.join(missing)}")

    failures: list[str] = []
    t = thresholds
    n_chains = int(idata.posterior.sizes.get("chain", 1))
    if n_chains < 2:
        failures.append(f"only {n_chains} chain: R-hat needs at least 2 chains (4 recommended)")

    with warnings.catch_warnings():
        # ArviZ warns about short chains etc.; the gate reports in its own words.
        warnings.simplefilter("ignore")
        if var_names:
            # round_to="none": ArviZ rounds to 2 decimals by default, which would let
            # an R-hat of 1.014 pass as "1.01".
            summary = az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")
            summary = summary[["r_hat", "ess_bulk", "ess_tail"]]
        else:
            import pandas as pd

            summary = pd.DataFrame(columns=["r_hat", "ess_bulk", "ess_tail"], dtype=float)

    for label, row in summary.iterrows():
        if n_chains >= 2 and not (row.r_hat <= t.r_hat_max):  # "not <=" also catches NaN
            failures.append(f"r_hat {_fmt(row.r_hat, 3)} > {t.r_hat_max} for {label}")
        if not (row.ess_bulk >= t.ess_bulk_min):
            failures.append(f"ess_bulk {_fmt(row.ess_bulk, 0)} < {t.ess_bulk_min:g} for {label}")
        if not (row.ess_tail >= t.ess_tail_min):
            failures.append(f"ess_tail {_fmt(row.ess_tail, 0)} < {t.ess_tail_min:g} for {label}")

    divergences = 0
    bfmi: tuple[float, ...] = ()
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        failures.append("sample_stats.diverging missing: divergences cannot be checked")
    else:
        divergences = int(np.asarray(stats["diverging"]).sum())
        if divergences > t.divergences_max:
            failures.append(
                f"{divergences} divergent transitions > {t.divergences_max} "
                "(raise target_accept or reparameterise)"
            )
    if stats is None or "energy" not in stats:
        failures.append("sample_stats.energy missing: E-BFMI cannot be checked")
    else:
        bfmi = tuple(float(b) for b in az.bfmi(idata))
        for chain, value in zip(idata.posterior.chain.values, bfmi):
            if not (value >= t.bfmi_min):
                failures.append(f"E-BFMI {_fmt(value, 3)} < {t.bfmi_min} in chain {chain}")

    return GateReport(
        passed=not failures,
        failures=tuple(failures),
        summary=summary,
        divergences=divergences,
        bfmi=bfmi,
        thresholds=thresholds,
    )


def enforce_gate(
    idata: az.InferenceData,
    report: GateReport,
    *,
    allow_unconverged: bool = False,
) -> az.InferenceData:
    """Apply the gate verdict to ``idata``.

    Parameters
    ----------
    idata : arviz.InferenceData
        Modified in place (attrs only) and returned.
    report : GateReport
        From :func:`check_gate` on this ``idata``.
    allow_unconverged : bool
        The user's explicit ``--allow-unconverged``.

    Returns
    -------
    arviz.InferenceData
        With netCDF-safe attrs ``gate_passed`` (1 or 0), ``gate_failures``
        (the failures joined by ``"; "``, empty when passed) and
        ``gate_thresholds`` (JSON). Downstream outputs read ``gate_passed`` and
        repeat ``gate_failures`` as a warning.

    Raises
    ------
    ConvergenceError
        When the gate failed and ``allow_unconverged`` is false.

    Warns
    -----
    UnconvergedWarning
        When the gate failed and ``allow_unconverged`` is true.
    """
    idata.attrs["gate_thresholds"] = json.dumps(asdict(report.thresholds))
    if report.passed:
        idata.attrs["gate_passed"] = 1
        idata.attrs["gate_failures"] = ""
        return idata
    listed = list(report.failures[:MAX_LISTED_FAILURES])
    if len(report.failures) > MAX_LISTED_FAILURES:
        listed.append(f"... and {len(report.failures) - MAX_LISTED_FAILURES} more")
    body = "\n".join(f"  {f}" for f in listed)
    n = len(report.failures)
    if not allow_unconverged:
        raise ConvergenceError(
            f"the posterior failed the convergence gate ({n} problem{'s' if n != 1 else ''}):\n{body}\n"
            "Increase tune/draws or target_accept in the spec's [sampler] table, or rerun with "
            "--allow-unconverged to proceed anyway (every output will then carry this warning)."
        )
    warnings.warn(
        f"proceeding with an UNCONVERGED posterior ({n} problem{'s' if n != 1 else ''}):\n{body}",
        UnconvergedWarning,
        stacklevel=2,
    )
    idata.attrs["gate_passed"] = 0
    idata.attrs["gate_failures"] = "; ".join(report.failures)
    return idata


def _fmt(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}f}"


def record_gate(idata: az.InferenceData, report: GateReport) -> az.InferenceData:
    """Store the gate verdict in netCDF-safe attrs so a cached posterior need not be re-diagnosed.

    The verdict is a function of the draws alone, which the cache stores unchanged.
    """
    idata.attrs["gate_passed"] = int(report.passed)
    idata.attrs["gate_failures"] = "; ".join(report.failures)
    idata.attrs["gate_divergences"] = int(report.divergences)
    idata.attrs["gate_bfmi"] = json.dumps(list(report.bfmi))
    idata.attrs["gate_summary"] = report.summary.to_json(orient="split")
    idata.attrs["gate_thresholds"] = json.dumps(asdict(report.thresholds))
    return idata


def report_from_attrs(idata: az.InferenceData) -> GateReport | None:
    """The :class:`GateReport` stored by :func:`record_gate`, or None when absent."""
    import pandas as pd

    attrs = getattr(idata, "attrs", {})
    if "gate_summary" not in attrs or "gate_passed" not in attrs:
        return None
    from io import StringIO

    failures = tuple(f for f in str(attrs.get("gate_failures", "")).split("; ") if f)
    return GateReport(
        passed=bool(int(attrs["gate_passed"])),
        failures=failures,
        summary=pd.read_json(StringIO(attrs["gate_summary"]), orient="split"),
        divergences=int(attrs.get("gate_divergences", 0)),
        bfmi=tuple(json.loads(attrs.get("gate_bfmi", "[]"))),
        thresholds=GateThresholds(**json.loads(attrs["gate_thresholds"])),
    )


def gate_banner(idata) -> str:
    """A loud warning when the posterior failed the diagnostics gate, else ''."""
    if int(idata.attrs.get("gate_passed", 1)):
        return ""
    # a few failures only: the banner is repeated in every row of csv/json outputs (a cohort
    # has millions); `rhcc-bayes diagnose` and the report's diagnostics section list them all
    failures = [f for f in str(idata.attrs.get("gate_failures", "")).split("; ") if f]
    shown = "; ".join(failures[:BANNER_FAILURES])
    if len(failures) > BANNER_FAILURES:
        shown += f"; and {len(failures) - BANNER_FAILURES} more (rhcc-bayes diagnose lists them)"
    return "WARNING: THIS FIT FAILED THE DIAGNOSTICS GATE (--allow-unconverged); numbers may be wrong: " + shown


#: Failures named in the gate banner.
BANNER_FAILURES = 3

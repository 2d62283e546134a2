"""Individual patient data from a digitised Kaplan–Meier curve and its numbers at risk.

The algorithm of Guyot, Ades, Ouwens & Welton (2012), *BMC Med Res Methodol* 12:9, as in
R's IPDfromKM / the authors' published code:

* between consecutive at-risk times t_i < t_{i+1} the number censored is first guessed from
  the curve, ``round(n_i S(t_{i+1}) / S(t_i) - n_{i+1})``, and spread evenly over the
  interval; deaths at each digitised point follow from the drop of the curve,
  ``d_k = round(n_k (1 - S_k / S_KM(last)))``; the censoring guess is corrected by the
  difference between the reconstructed and the published number at risk at t_{i+1}, and
  the interval recomputed, until they agree;
* after the last at-risk time censoring continues at the average rate seen before; when the
  total number of deaths is known the censoring of the last interval is adjusted until the
  reconstructed total matches it.

Each censored patient leaves at the midpoint between two digitised points, each death at a
digitised point, the patients left at the end are censored at the last point.

Digitised input is cleaned first (sorted, survival clipped to [0, 1], made non-increasing,
duplicates dropped, the point (0, 1) added) and every change is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rhcc_bayes.core.errors import Problem, ValidationError
from rhcc_bayes.ipd.csvin import number, read_records
from rhcc_bayes.ipd.km import kaplan_meier, number_at_risk

#: Survival values this far outside [0, 1] are digitising noise (clipped); further out, an error.
SURVIVAL_TOLERANCE = 0.02
#: Negative times down to this (months) are digitising noise at the origin (set to 0).
TIME_TOLERANCE = 0.5
#: Iterations allowed to match the number at risk of one interval (the published code has no cap).
MAX_ITER = 1000


@dataclass(frozen=True)
class Curve:
    """A cleaned digitised curve: ``time`` ascending from 0, ``survival`` non-increasing from 1."""

    time: np.ndarray
    survival: np.ndarray
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskTable:
    time: np.ndarray
    n_at_risk: np.ndarray
    lines: np.ndarray  # file lines of the rows (for messages)
    source: str = "<at-risk table>"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reconstruction:
    """Reconstructed patients and how well their Kaplan–Meier curve matches the digitised one.

    Attributes
    ----------
    ipd : DataFrame
        ``time_months, event`` (1 death, 0 censored), one row a patient.
    curve : Curve
        The cleaned digitised curve.
    risk : RiskTable
        The at-risk table used.
    max_abs_diff, mean_abs_diff : float
        |KM of the reconstructed IPD - digitised survival| over the digitised points.
    notes : tuple of str
        The cleaning done and any adjustment the algorithm made.
    """

    ipd: pd.DataFrame
    curve: Curve
    risk: RiskTable
    max_abs_diff: float
    mean_abs_diff: float
    total_events: int | None = None
    notes: tuple[str, ...] = field(default=())

    def risk_comparison(self) -> pd.DataFrame:
        """Published vs reconstructed numbers at risk at the table's times."""
        rec = number_at_risk(self.ipd["time_months"], self.risk.time)
        return pd.DataFrame({"time_months": self.risk.time, "published": self.risk.n_at_risk.astype(int),
                             "reconstructed": rec})

    def to_text(self, label: str | None = None) -> str:
        ipd = self.ipd
        km = kaplan_meier(ipd["time_months"], ipd["event"])
        med = km.median()
        head = f"reconstructed IPD{f' for {label}' if label else ''}: {len(ipd)} patients, " \
               f"{int(ipd['event'].sum())} deaths, {len(ipd) - int(ipd['event'].sum())} censored"
        lines = [head]
        if self.total_events is not None:
            lines.append(f"  reported total deaths: {self.total_events}")
        lines.append(f"  median survival (reconstructed KM): {'not reached' if np.isinf(med) else f'{med:.1f} months'}")
        lines.append(f"  fit to the digitised curve ({len(self.curve.time)} points): max |dS| = "
                     f"{self.max_abs_diff:.4f}, mean |dS| = {self.mean_abs_diff:.4f}")
        rc = self.risk_comparison()
        lines.append("  numbers at risk (published / reconstructed): " + ", ".join(
            f"{t:g}m {p}/{r}" for t, p, r in rc.itertuples(index=False)))
        if self.notes:
            lines.append("  cleaning and adjustments:")
            lines += [f"    - {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# --- reading and cleaning ---------------------------------------------------------------
def read_curve(path) -> Curve:
    """Read and clean a digitised curve CSV (``time_months,survival``)."""
    file = str(path)
    records = read_records(path, ("time_months", "survival"))
    problems: list[Problem] = []
    t, s, lines = [], [], []
    for line, rec in records:
        ti = number(file, line, "time_months", rec["time_months"], problems)
        si = number(file, line, "survival", rec["survival"], problems)
        if ti == ti and ti < -TIME_TOLERANCE:
            problems.append(Problem(file, f"time before 0 (more than {TIME_TOLERANCE:g} months: not digitising noise)",
                                    line, "time_months", rec["time_months"]))
        if si == si and not -SURVIVAL_TOLERANCE <= si <= 1 + SURVIVAL_TOLERANCE:
            hint = " (looks like a percentage: give survival as a fraction, e.g. 0.85)" if 1.5 < si <= 100 else ""
            problems.append(Problem(file, f"survival outside [0, 1] beyond the digitising tolerance "
                                          f"{SURVIVAL_TOLERANCE:g}{hint}", line, "survival", rec["survival"]))
        t.append(ti)
        s.append(si)
        lines.append(line)
    if problems:
        raise ValidationError(problems)
    return clean_curve(np.array(t), np.array(s))


def clean_curve(time, survival) -> Curve:
    """Sort, clip to [0, 1], make non-increasing, drop duplicates, start at (0, 1); report each change."""
    t = np.asarray(time, dtype=float)
    s = np.asarray(survival, dtype=float)
    notes = []
    order = np.lexsort((-s, t))  # by time; at equal times the higher survival first (the top of a step)
    if np.any(order != np.arange(len(t))):
        notes.append("points sorted by time")
    t, s = t[order], s[order]
    neg = t < 0
    if neg.any():
        notes.append(f"{int(neg.sum())} time(s) slightly below 0 set to 0")
        t = np.maximum(t, 0.0)
    out = (s < 0) | (s > 1)
    if out.any():
        notes.append(f"{int(out.sum())} survival value(s) slightly outside [0, 1] clipped")
        s = np.clip(s, 0.0, 1.0)
    mono = np.minimum.accumulate(s)
    rises = int(np.sum(mono < s))
    if rises:
        notes.append(f"{rises} point(s) above an earlier point lowered to it (survival cannot increase)")
        s = mono
    keep = np.ones(len(t), bool)
    keep[1:] = (np.diff(t) != 0) | (np.diff(s) != 0)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} duplicate point(s) dropped")
        t, s = t[keep], s[keep]
    if t[0] > 0:
        notes.append("point (0, 1) added")
        t, s = np.r_[0.0, t], np.r_[1.0, s]
    elif s[0] < 1:
        notes.append(f"survival at time 0 set to 1 (was {s[0]:.3f})")
        s = s.copy()
        s[0] = 1.0
    if len(t) > 1 and t[1] == 0:  # several points at 0: keep (0, 1) only
        at0 = int(np.sum(t == 0)) - 1
        notes.append(f"{at0} further point(s) at time 0 dropped")
        t, s = np.r_[0.0, t[t > 0]], np.r_[1.0, s[t > 0]]
    return Curve(time=t, survival=s, notes=tuple(notes))


def read_risk(path) -> RiskTable:
    """Read a numbers-at-risk CSV (``time_months,n_at_risk``), first row at time 0."""
    file = str(path)
    records = read_records(path, ("time_months", "n_at_risk"))
    problems: list[Problem] = []
    t, n, lines = [], [], []
    for line, rec in records:
        t.append(number(file, line, "time_months", rec["time_months"], problems, low=0.0, what="a time (months)"))
        ni = number(file, line, "n_at_risk", rec["n_at_risk"], problems, low=0.0, what="a count")
        if ni == ni and not float(ni).is_integer():
            problems.append(Problem(file, "must be a whole number of patients", line, "n_at_risk", rec["n_at_risk"]))
        n.append(ni)
        lines.append(line)
    if problems:
        raise ValidationError(problems)
    t, n = np.array(t), np.array(n)
    if t[0] != 0:
        problems.append(Problem(file, "the first row must be at time 0 (the number of patients at the start)",
                                lines[0], "time_months", records[0][1]["time_months"]))
    for i in range(1, len(t)):
        if t[i] <= t[i - 1]:
            problems.append(Problem(file, f"times must increase (previous row: {t[i - 1]:g})", lines[i],
                                    "time_months", records[i][1]["time_months"]))
        if n[i] > n[i - 1]:
            problems.append(Problem(file, f"numbers at risk cannot increase over time (previous row: {n[i - 1]:g})",
                                    lines[i], "n_at_risk", records[i][1]["n_at_risk"]))
    if n[0] <= 0:
        problems.append(Problem(file, "no patients at time 0", lines[0], "n_at_risk", records[0][1]["n_at_risk"]))
    if problems:
        raise ValidationError(problems)
    return RiskTable(time=t, n_at_risk=n.astype(int), lines=np.array(lines), source=file)


def _align(curve: Curve, risk: RiskTable) -> RiskTable:
    """Check the curve covers every at-risk interval; drop empty rows past the curve's end."""
    file, notes, problems = risk.source, [], []
    end = curve.time[-1]
    beyond = risk.time > end
    if beyond.any():
        bad = beyond & (risk.n_at_risk > 0)
        for i in np.nonzero(bad)[0]:
            problems.append(Problem(file, f"at-risk time after the last digitised point ({end:g} months) with "
                                          "patients still at risk: digitise the curve up to this time",
                                    int(risk.lines[i]), "time_months", f"{risk.time[i]:g}"))
        if not problems:
            notes.append(f"{int(beyond.sum())} at-risk row(s) with 0 patients after the curve's end dropped")
            risk = RiskTable(risk.time[~beyond], risk.n_at_risk[~beyond], risk.lines[~beyond], file)
    if not problems:
        edges = np.r_[risk.time, np.inf]
        for i in range(len(risk.time)):
            inside = int(np.sum((curve.time >= edges[i]) & (curve.time < edges[i + 1])))
            need = 2 if i < len(risk.time) - 1 else 1
            if inside < need:
                span = f"[{edges[i]:g}, {edges[i + 1]:g})" if i < len(risk.time) - 1 else f"from {edges[i]:g}"
                problems.append(Problem(file, f"the digitised curve has {inside} point(s) in the interval {span} "
                                              f"months; at least {need} are needed: digitise more points",
                                        int(risk.lines[i]), "time_months", f"{risk.time[i]:g}"))
    if problems:
        raise ValidationError(problems)
    return RiskTable(risk.time, risk.n_at_risk, risk.lines, file, tuple(notes))


# --- the algorithm ----------------------------------------------------------------------
class _State:
    """Arrays of the published algorithm (0-based): deaths d, censored cen, at risk n_hat, KM km."""

    def __init__(self, T, S, lower, upper, n_risk):
        self.T, self.S, self.lower, self.upper = T, S, lower, upper
        self.n_risk = n_risk.copy()
        N = len(T)
        self.d = np.zeros(N, dtype=np.int64)
        self.cen = np.zeros(N, dtype=np.int64)
        self.n_hat = np.zeros(N + 1, dtype=np.int64)
        self.km = np.ones(N)

    def spread_censoring(self, i: int, n_c: int, stop: int) -> None:
        """Spread ``n_c`` censorings evenly over (T[lower_i], T[stop]) and bin them by digitised point."""
        lo = self.lower[i]
        self.cen[lo:stop] = 0
        if n_c <= 0 or stop <= lo:
            return
        edges = self.T[lo:stop + 1]
        ct = edges[0] + np.arange(1, n_c + 1) * (edges[-1] - edges[0]) / (n_c + 1)
        idx = np.clip(np.searchsorted(edges, ct, side="left") - 1, 0, len(edges) - 2)  # right-closed bins
        self.cen[lo:stop] += np.bincount(idx, minlength=stop - lo)[: stop - lo]

    def walk(self, i: int, last: int, clamp: bool) -> int:
        """Deaths, KM and numbers at risk through interval ``i``; returns the last point with a death."""
        S, d, cen, n_hat, km = self.S, self.d, self.cen, self.n_hat, self.km
        n_hat[self.lower[i]] = self.n_risk[i]
        for k in range(self.lower[i], self.upper[i] + 1):
            if k == 0:
                d[k], km[k] = 0, 1.0
            else:
                ref = km[last]
                dk = int(round(n_hat[k] * (1 - S[k] / ref))) if ref > 0 else 0
                d[k] = min(max(dk, 0), max(n_hat[k], 0))
                km[k] = ref * (1 - d[k] / n_hat[k]) if n_hat[k] > 0 else ref
            n_hat[k + 1] = n_hat[k] - d[k] - cen[k]
            if clamp and n_hat[k + 1] < 0:
                n_hat[k + 1] = 0
                cen[k] = n_hat[k] - d[k]
            if d[k] != 0:
                last = k
        return last


def guyot(time, survival, risk_time, n_at_risk, total_events: int | None = None):
    """The Guyot et al. (2012) reconstruction on a cleaned curve.

    Parameters
    ----------
    time, survival : array
        Digitised curve, ascending in time from (0, 1), survival non-increasing.
    risk_time, n_at_risk : array
        At-risk table, first time 0; every interval holds curve points.
    total_events : int, optional
        Reported total deaths.

    Returns
    -------
    (time, event, notes) : ndarray, ndarray, list of str
        One entry per patient; notes on the adjustments made.
    """
    T, S = np.asarray(time, float), np.asarray(survival, float)
    t_r, n_r = np.asarray(risk_time, float), np.asarray(n_at_risk, dtype=np.int64)
    nint, notes = len(t_r), []
    lower = np.searchsorted(T, t_r, side="left")
    upper = np.r_[lower[1:] - 1, len(T) - 1]
    st = _State(T, S, lower, upper, n_r)
    n_censor = np.zeros(nint, dtype=np.int64)
    last = 0
    for i in range(nint - 1):
        nxt = lower[i + 1]
        guess = n_r[i] * S[nxt] / S[lower[i]] - st.n_risk[i + 1] if S[lower[i]] > 0 else 0
        n_censor[i] = int(round(guess))
        for it in range(MAX_ITER):
            n_censor[i] = max(n_censor[i], 0)
            st.spread_censoring(i, int(n_censor[i]), nxt)
            new_last = st.walk(i, last, clamp=False)
            diff = st.n_hat[nxt] - st.n_risk[i + 1]
            if diff > 0 or (diff < 0 and n_censor[i] > 0):
                n_censor[i] += diff
            else:
                break
        else:
            notes.append(f"interval from {t_r[i]:g} months: numbers at risk not matched in {MAX_ITER} iterations")
        last = new_last
        if st.n_hat[nxt] < st.n_risk[i + 1]:
            notes.append(f"at {t_r[i + 1]:g} months {st.n_hat[nxt]} patients remain, fewer than the published "
                         f"{st.n_risk[i + 1]} at risk: the curve's drop leaves no more")
            st.n_risk[i + 1] = st.n_hat[nxt]
    # last interval: censoring at the average rate of the earlier intervals
    i = nint - 1
    span = T[upper[i - 1]] - T[lower[0]] if nint > 1 else 0.0
    if nint > 1 and span > 0:
        n_censor[i] = min(int(round(n_censor[:i].sum() * (T[upper[i]] - T[lower[i]]) / span)), int(st.n_risk[i]))
    last_start = last

    def last_interval() -> None:
        n_censor[i] = max(n_censor[i], 0)
        st.spread_censoring(i, int(n_censor[i]), upper[i])
        st.walk(i, last_start, clamp=True)

    last_interval()
    if total_events is not None:
        before = int(st.d[: upper[i - 1] + 1].sum()) if nint > 1 else 0
        if nint > 1 and before >= total_events:
            st.d[lower[i]:upper[i] + 1] = 0
            st.cen[lower[i]:upper[i]] = 0
            notes.append(f"the reported {total_events} deaths are reached before {t_r[i]:g} months: "
                         "no deaths after the last at-risk time")
        else:
            for _ in range(MAX_ITER):
                total = int(st.d[: upper[i] + 1].sum())
                if total > total_events or (total < total_events and n_censor[i] > 0):
                    n_censor[i] += total - total_events
                    last_interval()
                else:
                    break
            total = int(st.d.sum())
            if total != total_events:
                notes.append(f"reconstructed {total} deaths; the reported total {total_events} cannot be met "
                             "with the curve's drop after the last at-risk time")
    n0 = int(n_r[0])
    t_ipd = [np.repeat(T, st.d), np.repeat((T[:-1] + T[1:]) / 2, st.cen[:-1])]
    e_ipd = [np.ones(int(st.d.sum()), dtype=np.int64), np.zeros(int(st.cen[:-1].sum()), dtype=np.int64)]
    rest = n0 - int(st.d.sum()) - int(st.cen[:-1].sum())
    if rest < 0:  # cannot happen with the clamps above; guard against silently inventing patients
        raise RuntimeError("reconstruction produced more patients than at risk at time 0")
    t_ipd.append(np.full(rest, T[-1]))
    e_ipd.append(np.zeros(rest, dtype=np.int64))
    return np.concatenate(t_ipd), np.concatenate(e_ipd), notes


def reconstruct(curve: Curve, risk: RiskTable, total_events: int | None = None) -> Reconstruction:
    """Reconstruct IPD from a cleaned curve and an at-risk table; measure the fit."""
    from rhcc_bayes.core.errors import UserError

    if total_events is not None and not 0 <= total_events <= int(risk.n_at_risk[0]):
        raise UserError(f"--total-events {total_events}: must be between 0 and the {int(risk.n_at_risk[0])} "
                        "patients at risk at time 0")
    risk = _align(curve, risk)
    t, e, notes = guyot(curve.time, curve.survival, risk.time, risk.n_at_risk, total_events)
    ipd = pd.DataFrame({"time_months": t, "event": e}).sort_values(["time_months", "event"], ignore_index=True)
    km = kaplan_meier(ipd["time_months"], ipd["event"])
    diff = np.abs(km(curve.time) - curve.survival)
    return Reconstruction(ipd=ipd, curve=curve, risk=risk, max_abs_diff=float(diff.max()),
                          mean_abs_diff=float(diff.mean()), total_events=total_events,
                          notes=(*curve.notes, *risk.notes, *notes))


def reconstruct_files(curve_path, risk_path, total_events: int | None = None) -> Reconstruction:
    """Read, clean and reconstruct (``rhcc-bayes ipd reconstruct``)."""
    return reconstruct(read_curve(curve_path), read_risk(risk_path), total_events)


def plot_reconstruction(rec: Reconstruction, label: str | None = None):
    """Figure: the digitised points over the Kaplan–Meier curve of the reconstructed IPD."""
    import matplotlib.pyplot as plt

    km = kaplan_meier(rec.ipd["time_months"], rec.ipd["event"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    steps_t = np.r_[0.0, km.times, rec.ipd["time_months"].max()]
    steps_s = np.r_[1.0, km.survival, km.survival[-1] if len(km.survival) else 1.0]
    ax.step(steps_t, steps_s, where="post", color="C0", label="Kaplan–Meier of reconstructed IPD")
    ax.plot(rec.curve.time, rec.curve.survival, "o", ms=3, color="C3", alpha=0.7, label="digitised points")
    cens = rec.ipd[rec.ipd["event"] == 0]["time_months"].to_numpy()
    ax.plot(cens, km(cens), "|", color="C0", ms=6, alpha=0.6, label="censored")
    ax.set_xlabel("months")
    ax.set_ylabel("overall survival")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Reconstruction{f' of {label}' if label else ''}: {len(rec.ipd)} patients, "
                 f"max |dS| {rec.max_abs_diff:.3f}, mean {rec.mean_abs_diff:.3f}", fontsize=10)
    for t, n in zip(rec.risk.time, rec.risk.n_at_risk):
        ax.annotate(str(int(n)), (t, 0.02), ha="center", fontsize=7, color="0.3")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig

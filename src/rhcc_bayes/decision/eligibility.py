"""Which salvage treatments a patient with recurrent HCC can receive, and why.

The review's treatment algorithm ("Determining treatment algorithms for recurrent
HCC" and the modality sections) written as explicit rules, all in this module.
Each treatment code maps to one small pure function in :data:`RULES` that returns
a list of :class:`Finding` (status, reason, citation keys). The treatment's status
is the most restrictive finding:

- ``excluded``    - a definite contraindication or an indication clearly not met;
- ``conditional`` - possible with caveats, outside the studied population, or
  some input needed by a rule is *unknown* (unknown never excludes);
- ``eligible``    - indicated; findings with this status are supporting notes.

Citation keys are the review's reference numbers. A code without a rule is
``conditional`` ("no rule for this treatment"), never an error.

Rule summary (details in each function's docstring):

=======================  =====================================================
Treatment                Rule
=======================  =====================================================
RFA, MWA, ABLATION, PEI  solitary <= 3 cm [79-81]; > 3 nodules or > 5 cm excluded
                         [33,92,93]; near gallbladder/bowel/diaphragm [76];
                         RFA heat sink near large vessels [71]
TACE, DEB-TACE, TAE      early recurrence, multinodular, MVI or > 3 cm [9,33,45-51];
                         PVTT [63] / extrahepatic spread [6] conditional
TARE                     as TACE, lower toxicity [60-62]; PVTT acceptable [63];
                         LEGACY < 8 cm [65]
SBRT                     after failed ablation/embolisation or when ablation is
                         contraindicated [85-87]
REPEAT-RESECTION         candidate, Child-Pugh A, no portal hypertension [38,39],
                         ECOG 0-1, no extrahepatic spread [6]
RESECTION,               excluded: primary (treatment-naive) hepatectomy in the
RESECTION-TACE           taxonomy, not a salvage option [6,46,52]
SALVAGE-LT               within Milan, transplant candidate, never after a
                         prior transplant [7,34-37]
SORAFENIB, CAMRELIZUMAB  advanced disease (PVTT / extrahepatic spread) [6,100-106]
TACE-RFA, DEB-TACE-RFA   studied <= 5 cm [94,95], <= 7 cm [92,93], > 5 cm [96]
TACE-MWA                 <= 3 cm and <= 3 nodules [98]
TACE+SORAFENIB           advanced disease, studied <= 5 cm [6,105,107]
TACE-RFA+SORAFENIB       advanced disease, <= 7 cm or <= 5 nodules <= 3 cm [106]
TACE+CAMRELIZUMAB        always conditional: no benefit over TACE in [109]
MIXED-LRT                always conditional: a pooled mixture, not one treatment
=======================  =====================================================

Non-surgical treatments also share a frailty check: ECOG >= 3 or Child-Pugh C
(BCLC D) makes them conditional [6].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from rhcc_bayes.decision.profile import UNKNOWN, PatientProfile

Status = Literal["eligible", "conditional", "excluded"]
_SEVERITY = {"eligible": 0, "conditional": 1, "excluded": 2}
Tri = bool | None  # rule logic: True / False / None = unknown


@dataclass(frozen=True)
class Finding:
    """One rule outcome: a status, a one-line reason and the review's reference keys."""

    status: Status
    reason: str
    refs: str = ""  # compact form as printed, e.g. "33,45-51"

    @property
    def citations(self) -> tuple[str, ...]:
        """Expanded keys: "45-47" -> ("45", "46", "47")."""
        keys: list[str] = []
        for part in filter(None, (s.strip() for s in self.refs.split(","))):
            lo, _, hi = part.partition("-")
            keys += [str(i) for i in range(int(lo), int(hi) + 1)] if hi else [lo]
        return tuple(keys)

    def __str__(self) -> str:
        return f"{self.reason} [{self.refs}]" if self.refs else self.reason


@dataclass(frozen=True)
class Verdict:
    """A treatment's status with every finding behind it (most severe first)."""

    treatment: str
    status: Status
    findings: tuple[Finding, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(str(f) for f in self.findings)

    @property
    def citations(self) -> tuple[str, ...]:
        keys = {k for f in self.findings for k in f.citations}
        return tuple(sorted(keys, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else k)))


# --- three-valued helpers ----------------------------------------------------------
def _known(x) -> bool:
    return x != UNKNOWN


def _cmp(x, op: str, y) -> Tri:
    if not _known(x):
        return None
    return {"<=": x <= y, "<": x < y, ">": x > y, ">=": x >= y, "==": x == y}[op]


def _flag(x) -> Tri:
    return None if not _known(x) else bool(x)


def _all(*xs: Tri) -> Tri:
    return False if False in xs else None if None in xs else True


def _any(*xs: Tri) -> Tri:
    return True if True in xs else None if None in xs else False


def _require(ok: Tri, fail: Status, why: str, unknown: str, refs: str = "") -> list[Finding]:
    """A condition that must hold: False -> ``fail``; unknown -> conditional."""
    if ok is True:
        return []
    if ok is False:
        return [Finding(fail, why, refs)]
    return [Finding("conditional", unknown, refs)]


def _note(text: str, refs: str = "") -> Finding:
    return Finding("eligible", text, refs)


# --- shared checks -------------------------------------------------------------------
def _frailty(p: PatientProfile) -> list[Finding]:
    """ECOG >= 3 or Child-Pugh C is BCLC D, where only transplant or supportive
    care is standard [6]: non-surgical treatments become conditional."""
    return (_require(_cmp(p.ecog, "<=", 2), "conditional",
                     f"ECOG {p.ecog}: BCLC D, supportive care is the standard",
                     "ECOG performance status unknown", "6")
            + _require(None if not _known(p.child_pugh) else p.child_pugh != "C",
                       "conditional", "Child-Pugh C: BCLC D unless transplanted",
                       "Child-Pugh class unknown", "6"))


def _no_extrahepatic_spread(p: PatientProfile) -> list[Finding]:
    """Extrahepatic spread is BCLC C, where systemic therapy is the standard [6]: conditional."""
    ehs = _flag(p.extrahepatic_spread)
    return _require(None if ehs is None else not ehs, "conditional",
                    "extrahepatic spread (BCLC C): systemic therapy is the standard",
                    "extrahepatic spread unknown", "6")


def _not_advanced(p: PatientProfile, status: Status, why: str, refs: str) -> list[Finding]:
    """Portal-vein thrombus or extrahepatic spread (BCLC C) -> ``status``."""
    adv = p.advanced
    return _require(None if adv == UNKNOWN else not adv, status, why,
                    "portal-vein thrombus / extrahepatic spread unknown", refs)


def _location(p: PatientProfile, refs: str = "76") -> list[Finding]:
    """Tumours abutting gallbladder, bowel or diaphragm risk thermal injury or an
    insufficient margin [76]."""
    near = {k: _flag(getattr(p, "near_" + k)) for k in ("gallbladder", "bowel", "diaphragm")}
    hit = [k for k, v in near.items() if v]
    return _require(
        False if hit else _all(*(None if v is None else not v for v in near.values())),
        "conditional", f"tumour near {'/'.join(hit)}: risk of injury or residual tumour",
        "position relative to gallbladder/bowel/diaphragm unknown", refs)


def _tace_indication(p: PatientProfile) -> list[Finding]:
    """TACE is indicated for early recurrence (< 12 months), multifocal disease,
    microvascular invasion [33,45-51], or tumours beyond the ablation range
    (> 3 cm, BCLC A non-surgical / BCLC B) [9]."""
    reasons = {
        "early recurrence (< 12 months)": (_cmp(p.months_since_treatment, "<", 12), "33"),
        "multinodular disease": (_cmp(p.nodules, ">=", 2), "33,49-51"),
        "microvascular invasion": (_flag(p.microvascular_invasion), "45-48"),
        "largest tumour > 3 cm, beyond the ablation range": (_cmp(p.tumour_size_cm, ">", 3), "9"),
    }
    hits = [_note(f"{why}: TACE should be considered", refs)
            for why, (v, refs) in reasons.items() if v]
    if hits:
        return hits
    if None in (v for v, _ in reasons.values()):
        return [Finding("conditional", "TACE indication unclear (recurrence timing, nodules, "
                        "MVI or size unknown)", "33")]
    return [Finding("conditional", "small solitary late recurrence without MVI: curative options "
                    "(ablation, resection) preferred; TACE for non-surgical candidates", "9")]


# --- rules: one function per treatment family ------------------------------------------
def rule_ablation(p: PatientProfile, code: str) -> list[Finding]:
    """Percutaneous ablation (RFA, MWA, generic ABLATION, PEI).

    - solitary <= 3 cm: eligible, comparable to repeat resection with less morbidity [79-81];
    - > 3 nodules: excluded, multifocal disease calls for TACE [33];
    - > 5 cm: excluded, ablation alone is inadequate; TACE-RFA was studied instead [92,93,96];
    - otherwise (3-5 cm or 2-3 nodules): conditional, outside the <= 3 cm evidence
      (MWA's larger zones may extend it [83]);
    - PVTT / extrahepatic spread: excluded, not curative in BCLC C [6];
    - thermal ablation near gallbladder/bowel/diaphragm: conditional [76] (MWA: [72-76]);
    - RFA (and unspecified ablation) near a large vessel: conditional, heat sink [71];
      MWA is less affected [72-75];
    - early recurrence or MVI: supporting note that TACE should be considered [33,45-48].
    """
    size, n = p.tumour_size_cm, p.nodules
    out: list[Finding] = []
    if _cmp(n, ">", 3):
        out.append(Finding("excluded", f"{n} nodules: multifocal disease, TACE should be "
                           "considered instead", "33"))
    if _cmp(size, ">", 5):
        out.append(Finding("excluded", f"largest tumour {size:g} cm > 5 cm: ablation alone "
                           "inadequate (combined TACE-RFA studied)", "92,93,96"))
    if not out:
        small = _all(_cmp(n, "==", 1), _cmp(size, "<=", 3))
        if small:
            out.append(_note("small solitary tumour (<= 3 cm): ablation comparable to repeat "
                             "resection with lower morbidity", "79-81"))
        else:
            extra = "; larger MWA zones may broaden use" if code == "MWA" else ""
            refs = "80,81,83" if code == "MWA" else "80,81"
            out += _require(small, "conditional", "outside the solitary <= 3 cm population where "
                            f"ablation matches resection{extra}", "tumour size or number unknown",
                            refs)
    out += _not_advanced(p, "excluded", "portal-vein thrombus / extrahepatic spread: ablation "
                         "alone is not curative in advanced disease", "6")
    if code != "PEI":  # chemical ablation: no thermal injury or heat sink
        out += _location(p, "72-76" if code == "MWA" else "76")
        vessel = _flag(p.near_large_vessel)
        if code == "MWA":
            if vessel:
                out.append(_note("near a large vessel: MWA is less affected by heat sink", "72-75"))
        else:
            out += _require(None if vessel is None else not vessel, "conditional",
                            "near a large vessel: heat sink lowers RFA efficacy",
                            "position relative to large vessels unknown (heat sink)", "71")
    if _any(_cmp(p.months_since_treatment, "<", 12), _flag(p.microvascular_invasion)):
        out.append(_note("early recurrence or MVI: TACE or TACE-ablation should also be "
                         "considered", "33,45-48"))
    return out + _frailty(p)


def rule_transarterial(p: PatientProfile, code: str) -> list[Finding]:
    """Chemo-/bland embolisation (TACE, DEB-TACE, TAE).

    - indicated for early recurrence, multifocal disease, MVI or tumours > 3 cm
      [9,33,45-51]; a small solitary late recurrence without MVI is conditional
      (curative options preferred, TACE for non-surgical candidates [9]);
    - > 5 cm or >= 2 lesions: note of poorer TACE outcomes [50];
    - portal-vein thrombus: conditional, TARE carries less risk [63];
    - extrahepatic spread: conditional, systemic therapy is standard in BCLC C [6];
    - tolerable with poorer liver function [49-51]; frailty check [6].
    """
    out = _tace_indication(p)
    if _any(_cmp(p.tumour_size_cm, ">", 5), _cmp(p.nodules, ">=", 2)):
        out.append(_note("tumour > 5 cm or >= 2 lesions predict poorer TACE outcomes", "50"))
    pvtt = _flag(p.portal_vein_thrombus)
    out += _require(None if pvtt is None else not pvtt, "conditional",
                    "portal-vein tumour thrombus: embolisation risky, TARE carries less risk",
                    "portal-vein thrombus unknown", "63")
    out += _no_extrahepatic_spread(p)
    return out + _frailty(p)


def rule_tare(p: PatientProfile, code: str) -> list[Finding]:
    """Radioembolisation (TARE, Y-90).

    - same indications as TACE, as a lower-toxicity alternative (shorter stay, less
      post-embolisation syndrome) [60-62]; also acceptable with portal-vein thrombus [63]
      and advocated for advanced unresectable disease [33,69];
    - tumour >= 8 cm: conditional, LEGACY showed curative-intent benefit for < 8 cm [65];
    - extrahepatic spread: conditional [6]; R-HCC evidence is scarce [68]; frailty [6].
    """
    pvtt = _flag(p.portal_vein_thrombus)
    out = ([_note("portal-vein thrombus: TARE carries less risk than TACE", "33,63,69")]
           if pvtt else _tace_indication(p))
    out.append(_note("lower-toxicity alternative to TACE; R-HCC evidence scarce", "60-62,68"))
    out += _require(_cmp(p.tumour_size_cm, "<", 8), "conditional",
                    f"largest tumour {p.tumour_size_cm} cm >= 8 cm: beyond LEGACY (< 8 cm)",
                    "tumour size unknown (LEGACY: < 8 cm)", "65")
    out += _no_extrahepatic_spread(p)
    return out + _frailty(p)


def rule_sbrt(p: PatientProfile, code: str) -> list[Finding]:
    """Stereotactic body radiotherapy.

    - eligible after failed ablation/embolisation (prior treatment ablation, TACE or
      TARE) [85-87] or when ablation is excluded for this patient [85,86];
    - conditional when ablation is eligible (SBRT is reserved as salvage [85]) or
      when either is unclear; extrahepatic spread conditional [6]; frailty [6];
    - > 3 nodules: conditional (usual SBRT practice, not stated in the review).
    """
    failed = None if p.prior_treatment == UNKNOWN else p.prior_treatment in ("ablation", "tace",
                                                                               "tare")
    ablation = assess(p, "ABLATION").status
    if failed:
        out = [_note(f"recurrence after {p.prior_treatment}: SBRT is a salvage option", "85-87")]
    elif ablation == "excluded":
        out = [_note("ablation contraindicated: SBRT is an alternative", "85,86")]
    else:
        out = [Finding("conditional", f"SBRT is reserved for failed or contraindicated "
                       f"ablation/TACE; ablation is {ablation} here", "85")]
    # Not from the review: SBRT plans treat a limited number of lesions.
    out += _require(_cmp(p.nodules, "<=", 3), "conditional",
                    f"{p.nodules} nodules: SBRT treats a limited number of lesions",
                    "number of nodules unknown")
    out += _no_extrahepatic_spread(p)
    return out + _frailty(p)


def rule_resection(p: PatientProfile, code: str) -> list[Finding]:
    """Repeat hepatectomy for the recurrence.

    - not a resection candidate: excluded; unknown candidacy: conditional;
    - needs liver reserve, Child-Pugh A, and no portal hypertension [38,39];
    - ECOG 0-1 [6]; extrahepatic spread excluded, portal-vein thrombus conditional [6];
    - > 3 nodules: conditional, TACE should be considered [33];
    - notes: solitary <= 3 cm, ablation is a comparable lower-morbidity alternative
      [79-81]; otherwise better long-term survival than RFA in meta-analyses [78,82].
    """
    out = _require(_flag(p.resection_candidate), "excluded", "not a resection candidate",
                   "resection candidacy unknown")
    cp = p.child_pugh
    out += _require(None if cp == UNKNOWN else cp == "A", "excluded",
                    f"Child-Pugh {cp}: repeat resection needs liver reserve (Child-Pugh A)",
                    "Child-Pugh class unknown (repeat resection needs Child-Pugh A)", "38,39")
    ph = _flag(p.portal_hypertension)
    out += _require(None if ph is None else not ph, "excluded",
                    "portal hypertension makes repeat resection risky",
                    "portal hypertension unknown", "38,39")
    out += _require(_cmp(p.ecog, "<=", 1), "excluded", f"ECOG {p.ecog}: surgery needs ECOG 0-1",
                    "ECOG performance status unknown", "6")
    ehs, pvtt = _flag(p.extrahepatic_spread), _flag(p.portal_vein_thrombus)
    out += _require(None if ehs is None else not ehs, "excluded",
                    "extrahepatic spread: resection not curative", "extrahepatic spread unknown",
                    "6")
    out += _require(None if pvtt is None else not pvtt, "conditional",
                    "portal-vein tumour thrombus (BCLC C)", "portal-vein thrombus unknown", "6")
    out += _require(_cmp(p.nodules, "<=", 3), "conditional",
                    f"{p.nodules} nodules: TACE should be considered for multifocal disease",
                    "number of nodules unknown", "33")
    if _all(_cmp(p.nodules, "==", 1), _cmp(p.tumour_size_cm, "<=", 3)):
        out.append(_note("solitary <= 3 cm: ablation is a comparable, lower-morbidity "
                         "alternative", "79-81"))
    else:
        out.append(_note("better long-term survival than RFA in meta-analyses (selection bias "
                         "likely)", "78,82"))
    return out


def rule_transplant(p: PatientProfile, code: str) -> list[Finding]:
    """Salvage liver transplantation.

    - never after a prior transplant (recurrence in the graft) [34-37];
    - only within Milan criteria [7,34-37];
    - only for a transplant candidate (donor availability, candidacy) [9];
    - note: best long-term survival for R-HCC when feasible [34-37].
    """
    prior = p.prior_treatment
    out = _require(None if prior == UNKNOWN else prior != "transplant", "excluded",
                   "recurrence after a liver transplant: salvage transplant not applicable",
                   "prior treatment unknown (salvage transplant only after non-transplant "
                   "treatment)", "34-37")
    milan = p.milan
    out += _require(None if milan == UNKNOWN else milan == "within", "excluded",
                    "beyond Milan criteria", "Milan status unknown", "7,34-37")
    out += _require(_flag(p.transplant_candidate), "excluded", "not a transplant candidate",
                    "transplant candidacy unknown", "9")
    out.append(_note("best long-term survival for R-HCC when feasible", "34-37"))
    return out


def rule_systemic(p: PatientProfile, code: str) -> list[Finding]:
    """Systemic therapy alone (SORAFENIB, CAMRELIZUMAB).

    - indicated for advanced disease (BCLC C: portal-vein thrombus or extrahepatic
      spread) [6]; otherwise conditional: worse response and more adverse events than
      locoregional therapy [100,101];
    - Child-Pugh B: conditional, sorafenib's evidence (SHARP) is in Child-Pugh A [6];
    - camrelizumab: conditional, scarce evidence and hyperprogressive disease [108-112];
      after a liver transplant checkpoint inhibitors risk graft rejection (not covered
      by the review, hence no citation).
    """
    adv = p.advanced
    if adv is True:
        out = [_note("advanced disease (BCLC C): systemic therapy is the standard", "6")]
    else:
        out = _require(None if adv == UNKNOWN else False, "conditional",
                       "no advanced disease: systemic therapy gives worse response than "
                       "locoregional therapy", "portal-vein thrombus / extrahepatic spread unknown",
                       "6,100,101")
    if p.child_pugh == "B":
        out.append(Finding("conditional", "Child-Pugh B: sorafenib evidence is in Child-Pugh A",
                           "6"))
    if "CAMRELIZUMAB" in code:
        out.append(Finding("conditional", "immunotherapy: scarce evidence, hyperprogressive "
                           "disease reported", "108-112"))
        if p.prior_treatment == "transplant":
            out.append(Finding("conditional", "after liver transplant: checkpoint inhibitors "
                               "risk graft rejection"))
    return out + _frailty(p)


def rule_tace_ablation(p: PatientProfile, code: str) -> list[Finding]:
    """TACE combined with thermal ablation (TACE-RFA, DEB-TACE-RFA, TACE-MWA).

    - TACE-RFA studied for <= 5 cm [94,95], <= 7 cm [92,93] and > 5 cm [96]: eligible up
      to 7 cm, conditional beyond; DEB-TACE-RFA by analogy [115];
    - TACE-MWA studied for <= 3 tumours < 3 cm [98]: conditional outside that;
    - > 3 nodules: conditional (combinations studied in limited disease) [33];
    - near gallbladder/bowel/diaphragm: conditional [76]; near a large vessel: note that
      TACE mitigates the heat sink [71];
    - advanced disease: conditional, add systemic therapy [6,106]; frailty [6].
    """
    size, n = p.tumour_size_cm, p.nodules
    if code == "TACE-MWA":
        ok = _all(_cmp(size, "<=", 3), _cmp(n, "<=", 3))
        out = ([_note("<= 3 tumours <= 3 cm: TACE-MWA improved response and PFS over TACE",
                      "98")] if ok else
               _require(ok, "conditional", "outside the studied population (<= 3 tumours "
                        "<= 3 cm)", "tumour size or number unknown", "98"))
        out += _location(p, "72-76")
    else:
        refs = "92-96,115" if code.startswith("DEB") else "92-96"
        ok = _cmp(size, "<=", 7)
        out = ([_note(f"largest tumour {size:g} cm within the sizes studied for TACE-RFA "
                      "(<= 5 cm; <= 7 cm; > 5 cm)", refs)] if ok else
               _require(ok, "conditional", f"largest tumour {size} cm > 7 cm: beyond the "
                        "<= 7 cm series", "tumour size unknown", "92,93,96"))
        out += _require(_cmp(n, "<=", 3), "conditional", f"{n} nodules: combination studied "
                        "in limited disease, TACE alone considered", "number of nodules unknown",
                        "33")
        out += _location(p, "76")
        if _flag(p.near_large_vessel):
            out.append(_note("near a large vessel: TACE mitigates the RFA heat sink", "71"))
    out += _not_advanced(p, "conditional", "advanced disease: add systemic therapy", "6,106")
    return out + _frailty(p)


def rule_tace_systemic(p: PatientProfile, code: str) -> list[Finding]:
    """Locoregional therapy plus a systemic agent.

    - TACE+SORAFENIB: indicated for advanced disease [6]; longer survival than TACE in
      R-HCC <= 5 cm [105] and longer PFS in an RCT [107]; > 5 cm conditional;
    - TACE-RFA+SORAFENIB: advanced R-HCC <= 7 cm or <= 5 nodules <= 3 cm [106];
      near gallbladder/bowel/diaphragm conditional [76];
    - TACE+CAMRELIZUMAB: always conditional, no benefit over TACE [109] and
      hyperprogressive disease reported [108-111]; follows the TACE indication [33];
    - Child-Pugh B conditional for sorafenib [6]; frailty [6].
    """
    if code == "TACE+CAMRELIZUMAB":
        out = _tace_indication(p) + [Finding(
            "conditional", "no difference in response or survival vs TACE alone; "
            "hyperprogressive disease reported", "108-111")]
        if p.prior_treatment == "transplant":
            out.append(Finding("conditional", "after liver transplant: checkpoint inhibitors "
                               "risk graft rejection"))
        return out + _frailty(p)
    adv = p.advanced
    out = ([_note("advanced disease (BCLC C): systemic add-on indicated", "6")] if adv is True
           else _require(None if adv == UNKNOWN else False, "conditional",
                         "no advanced disease: sorafenib add-on reserved for BCLC C",
                         "portal-vein thrombus / extrahepatic spread unknown", "6"))
    size, n = p.tumour_size_cm, p.nodules
    if code == "TACE-RFA+SORAFENIB":
        ok = _any(_all(_cmp(n, "==", 1), _cmp(size, "<=", 7)),
                  _all(_cmp(n, "<=", 5), _cmp(size, "<=", 3)))
        out += ([_note("within the studied burden (<= 7 cm or <= 5 nodules <= 3 cm)", "106")]
                if ok else _require(ok, "conditional", "outside the studied burden (<= 7 cm or "
                                    "<= 5 nodules <= 3 cm)", "tumour size or number unknown",
                                    "106"))
        out += _location(p, "76")
    else:
        out += _require(_cmp(size, "<=", 5), "conditional", f"largest tumour {size} cm: beyond "
                        "the studied <= 5 cm", "tumour size unknown", "105")
        out.append(_note("longer survival and PFS than TACE alone", "105,107"))
    if p.child_pugh == "B":
        out.append(Finding("conditional", "Child-Pugh B: sorafenib evidence is in Child-Pugh A",
                           "6"))
    return out + _frailty(p)


def rule_primary_only(p: PatientProfile, code: str) -> list[Finding]:
    """RESECTION and RESECTION-TACE code *primary* hepatectomy (with adjuvant TACE
    [46,52]) for treatment-naive HCC in the taxonomy: not salvage options for a
    recurrence, so excluded; the salvage surgical option is REPEAT-RESECTION."""
    refs = "46,52" if code == "RESECTION-TACE" else "6"
    return [Finding("excluded", "primary treatment for treatment-naive HCC, not a salvage "
                    "option for recurrence (see REPEAT-RESECTION)", refs)]


def rule_mixed(p: PatientProfile, code: str) -> list[Finding]:
    """MIXED-LRT: pooled arms of several locoregional therapies (e.g. RFA, TAE, PEI in
    [37]); not one actionable treatment, so always conditional."""
    return [Finding("conditional", "a pooled mixture of locoregional therapies; choose a "
                    "specific treatment", "37")]


Rule = Callable[[PatientProfile, str], list[Finding]]
RULES: dict[str, Rule] = {
    "RFA": rule_ablation, "MWA": rule_ablation, "ABLATION": rule_ablation, "PEI": rule_ablation,
    "TACE": rule_transarterial, "DEB-TACE": rule_transarterial, "TAE": rule_transarterial,
    "TARE": rule_tare,
    "SBRT": rule_sbrt,
    "REPEAT-RESECTION": rule_resection,
    "RESECTION": rule_primary_only, "RESECTION-TACE": rule_primary_only,
    "SALVAGE-LT": rule_transplant,
    "SORAFENIB": rule_systemic, "CAMRELIZUMAB": rule_systemic,
    "TACE-RFA": rule_tace_ablation, "DEB-TACE-RFA": rule_tace_ablation,
    "TACE-MWA": rule_tace_ablation,
    "TACE+SORAFENIB": rule_tace_systemic, "TACE-RFA+SORAFENIB": rule_tace_systemic,
    "TACE+CAMRELIZUMAB": rule_tace_systemic,
    "MIXED-LRT": rule_mixed,
}


def assess(profile: PatientProfile, treatment: str) -> Verdict:
    """Apply the rule for one treatment code (unknown codes: conditional)."""
    rule = RULES.get(treatment)
    findings = (rule(profile, treatment) if rule else
                [Finding("conditional", "no rule for this treatment")])
    findings = sorted(findings or [_note("no contraindication found")],
                      key=lambda f: -_SEVERITY[f.status])  # stable sort keeps rule order
    status = findings[0].status
    return Verdict(treatment, status, tuple(findings))


@dataclass(frozen=True)
class EligibilityTable:
    """Tidy eligibility result for one profile: one :class:`Verdict` per treatment."""

    profile_id: str
    verdicts: tuple[Verdict, ...]

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.verdicts)

    def __len__(self) -> int:
        return len(self.verdicts)

    def __getitem__(self, treatment: str) -> Verdict:
        for v in self.verdicts:
            if v.treatment == treatment:
                return v
        raise KeyError(treatment)

    def status(self, treatment: str) -> Status:
        return self[treatment].status

    def eligible(self) -> list[str]:
        """Treatments with status ``eligible``."""
        return [v.treatment for v in self.verdicts if v.status == "eligible"]

    def allowed(self) -> list[str]:
        """Treatments not excluded (eligible or conditional): the decision's candidates."""
        return [v.treatment for v in self.verdicts if v.status != "excluded"]

    def to_frame(self):
        """pandas DataFrame: profile, treatment, status, reasons ("; "), citations (";")."""
        import pandas as pd

        return pd.DataFrame(
            [{"profile": self.profile_id, "treatment": v.treatment, "status": v.status,
              "reasons": "; ".join(v.reasons), "citations": ";".join(v.citations)}
             for v in self.verdicts],
            columns=["profile", "treatment", "status", "reasons", "citations"])

    def __str__(self) -> str:
        width = max((len(v.treatment) for v in self.verdicts), default=9)
        lines = [f"Eligibility for {self.profile_id}"]
        for v in self.verdicts:
            lines.append(f"  {v.treatment:<{width}}  {v.status:<11}  " + "; ".join(v.reasons))
        return "\n".join(lines)


def assess_eligibility(profile: PatientProfile,
                       treatments: Iterable[str] | None = None) -> EligibilityTable:
    """Eligibility of each treatment for ``profile``.

    Parameters
    ----------
    profile : PatientProfile
    treatments : iterable of str, optional
        Treatment codes (e.g. from ``data/treatments.csv``); default: every code with a
        rule, in :data:`RULES` order. Codes without a rule come back ``conditional``.

    Returns
    -------
    EligibilityTable
    """
    codes = list(RULES) if treatments is None else list(dict.fromkeys(treatments))
    return EligibilityTable(profile.id, tuple(assess(profile, c) for c in codes))

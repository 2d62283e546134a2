"""Tests for the validation rules (``rhcc_bayes.evidence.checks``, ``.consistency``,
``.validate``): one failing fixture and its exact message per rule, all problems reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.evidence.table import load_evidence
from rhcc_bayes.evidence.taxonomy import load_taxonomy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "evidence"
TREATMENTS = FIXTURES / "treatments.csv"
VALID = FIXTURES / "valid.csv"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(TREATMENTS)


def problems(path, taxonomy=TREATMENTS) -> list[str]:
    """The problem lines for ``path``, with the fixture folder prefix removed."""
    with pytest.raises(ValidationError) as info:
        load_evidence(path, taxonomy=taxonomy)
    return [str(p).replace(f"{FIXTURES}/", "") for p in info.value.problems]


# One failing fixture and the exact message for every rule.
RULES = {
    "missing_column.csv": [
        "missing_column.csv:1: column 'estimate': missing required column"],
    "unknown_column.csv": [
        "unknown_column.csv:1: column 'note': unknown column (did you mean 'notes'?)"],
    "repeated_column.csv": [
        "repeated_column.csv:1: column 'arm': column appears more than once"],
    "empty.csv": ["empty.csv: file is empty (expected a header row)"],
    "not_utf8.csv": ["not_utf8.csv:2: file is not valid UTF-8 (save it as UTF-8) (got b'\\xe9')"],
    "ragged.csv": ["ragged.csv:3: row has 4 fields but the header has 20"],
    "bad_quoting.csv": ["bad_quoting.csv:2: malformed CSV: ',' expected after '\"'"],
    "does_not_exist.csv": ["does_not_exist.csv: file not found"],
    "empty_identifier.csv": ["empty_identifier.csv:2: column 'study': study is empty"],
    "not_numeric.csv": [
        "not_numeric.csv:2: column 'estimate': is not a number (got '0.9x')"],
    "not_positive_integer.csv": [
        "not_positive_integer.csv:2: column 'n': must be a positive integer (got '2.5')",
        "not_positive_integer.csv:2: column 'nodules_max': must be a positive integer (got '0')",
    ],
    "probability_range.csv": [
        "probability_range.csv:2: column 'estimate': survival estimate must lie in [0, 1] "
        "(got '1.2')"],
    "ci_reversed.csv": [
        "ci_reversed.csv:2: column 'ci_low': ci_low exceeds ci_high 0.5 (got '0.98')"],
    "ci_excludes_estimate.csv": [
        "ci_excludes_estimate.csv:2: column 'estimate': estimate lies outside its interval "
        "[0.5, 0.98] (got '1.2')"],
    "survival_increasing.csv": [
        "survival_increasing.csv:3: column 'estimate': survival increases from 0.6 at 12 "
        "months (line 2) within arm 'A' of study 's1' (got '0.7')"],
    "time_not_positive.csv": [
        "time_not_positive.csv:2: column 'time_months': time_months must be > 0 (got '0')"],
    "unknown_treatment.csv": [
        "unknown_treatment.csv:2: column 'treatment': unknown treatment code "
        "(did you mean 'TACE-RFA'?) (got 'TACE-RAF')"],
    "modality_mismatch.csv": [
        "modality_mismatch.csv:2: column 'modality': modality does not match the taxonomy "
        "('ablation' for 'RFA') (got 'transarterial')"],
    "invalid_category.csv": [
        "invalid_category.csv:2: column 'outcome': invalid outcome (did you mean 'os'?); "
        "expected one of: os, pfs, dfs, rfs, ttp, complication, morbidity, recurrence, "
        "response, los, enrolment, event, continuous (got 'OS')",
        "invalid_category.csv:2: column 'design': invalid design (did you mean "
        "'retrospective'?); expected one of: rct, prospective, retrospective, meta_analysis, "
        "review, trial (got 'retrospectve')",
    ],
    "estimate_empty.csv": [
        "estimate_empty.csv:2: column 'estimate': estimate is empty; only interval=range rows "
        "and enrolment counts may omit it"],
    "duplicate_rows.csv": ["duplicate_rows.csv:3: duplicate of line 2"],
    "comparator_missing.csv": [
        "comparator_missing.csv:2: column 'comparator_arm': hr row needs a comparator_arm"],
    "comparator_unknown.csv": [
        "comparator_unknown.csv:2: column 'comparator_arm': comparator arm is not an arm of "
        "study 's1' (did you mean 'TACE'?) (got 'TAC')"],
    "n_disagrees.csv": [
        "n_disagrees.csv:3: column 'n': n disagrees with line 2 (50) for arm 'A' of study "
        "'s1' (got '45')"],
    "treatment_disagrees.csv": [
        "treatment_disagrees.csv:3: column 'treatment': treatment disagrees with line 2 "
        "('RFA') for arm 'A' of study 's1' (got 'MWA')"],
    "not_positive_measure.csv": [
        "not_positive_measure.csv:2: column 'estimate': median estimate must be > 0 (got '0')"],
    "survival_without_time.csv": [
        "survival_without_time.csv:2: column 'time_months': survival row needs time_months"],
    "includes_unknown.csv": [
        "includes_unknown.csv:3: column 'includes': includes unknown study 'kim_51' (did you "
        "mean 'kim_15'?) (got 'kim_15;kim_51')"],
    "includes_self.csv": [
        "includes_self.csv:3: column 'includes': a row cannot include its own study 'meta_1' "
        "(got 'meta_1;kim_15')"],
    "includes_not_pooled.csv": [
        "includes_not_pooled.csv:3: column 'includes': includes is only for pooled rows (design "
        "meta_analysis or review), not design 'retrospective' (got 'kim_15')"],
    "n_too_large.csv": [
        "n_too_large.csv:2: column 'n': n must be at most 100000 patients (got '1e12')",
        "n_too_large.csv:2: column 'nodules_max': nodules_max must be at most 50 nodules "
        "(got '51')"],
    "time_too_large.csv": [
        "time_too_large.csv:2: column 'time_months': time_months must be in (0, 600] months "
        "(got '7200')"],
    "size_out_of_range.csv": [
        "size_out_of_range.csv:2: column 'size_min_cm': size_min_cm must be in (0, 30] cm "
        "(got '0')",
        "size_out_of_range.csv:2: column 'size_max_cm': size_max_cm must be in (0, 30] cm "
        "(got '300')"],
    "size_order.csv": [
        "size_order.csv:2: column 'size_min_cm': size_min_cm is not below size_max_cm 3 "
        "(got '5')"],
    "se_not_positive.csv": [
        "se_not_positive.csv:2: column 'se': se must be in (0, 1000000] (got '-0.5')"],
    "median_too_large.csv": [
        "median_too_large.csv:2: column 'estimate': median estimate must be in (0, 600] months "
        "(got '1e308')"],
    "ratio_too_large.csv": [
        "ratio_too_large.csv:2: column 'estimate': hr estimate must be in (0, 100) ratio "
        "(got '250')",
        "ratio_too_large.csv:2: column 'ci_high': hr ci_high must be in (0, 100) ratio "
        "(got '1000')"],
    "los_out_of_range.csv": [
        "los_out_of_range.csv:2: column 'estimate': mean estimate must be in (0, 365] days "
        "(got '400')"],
    "count_out_of_range.csv": [
        "count_out_of_range.csv:2: column 'estimate': count estimate must be a whole number in "
        "[0, 100000] patients or events (got '2.5')"],
    "magnitude_too_large.csv": [
        "magnitude_too_large.csv:2: column 'estimate': estimate must be in [-1e9, 1e9] "
        "(got '1e300')"],
    "count_exceeds_n.csv": [
        "count_exceeds_n.csv:2: column 'estimate': enrolment count differs from n 50 (got '45')",
        "count_exceeds_n.csv:3: column 'estimate': count exceeds n 50 (got '60')"],
    "lookalike_unicode.csv": [
        "lookalike_unicode.csv:2: column 'treatment': treatment contains U+0410 CYRILLIC CAPITAL "
        "LETTER A ('А'), which looks like 'A'; type codes and labels in plain ASCII "
        "(got 'TАCE')",
        "lookalike_unicode.csv:2: column 'treatment': unknown treatment code (did you mean "
        "'TACE'?) (got 'TАCE')"],
    "includes_malformed.csv": [
        "includes_malformed.csv:3: column 'includes': empty study label in includes "
        "(got 'kim_15;;kim_15')",
        "includes_malformed.csv:3: column 'includes': study 'kim_15' listed twice in includes "
        "(got 'kim_15;;kim_15')",
    ],
}


@pytest.mark.parametrize("fixture", sorted(RULES))
def test_each_rule_reports_its_exact_message(fixture):
    assert problems(FIXTURES / fixture) == RULES[fixture]


def test_every_failing_fixture_is_covered():
    helpers = {"valid.csv", "treatments.csv", "bad_treatments.csv", "open_world.csv"}
    on_disk = {p.name for p in FIXTURES.glob("*.csv")} - helpers
    assert on_disk == set(RULES) - {"does_not_exist.csv"}


def test_all_problems_of_all_files_reported_together():
    files = [FIXTURES / "not_numeric.csv", FIXTURES / "empty.csv", FIXTURES / "ci_reversed.csv"]
    with pytest.raises(ValidationError) as info:
        load_evidence(files, taxonomy=TREATMENTS)
    lines = str(info.value).splitlines()
    assert lines[0] == "3 problems found:"
    # reported in the order the files were given
    assert [p.file for p in info.value.problems] == [str(f) for f in files]


def test_many_problems_in_one_row_all_reported(tmp_path):
    path = tmp_path / "many.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,surgery,-3,os,survival,,1.5,0.9,0.1,ci95,fraction,,x,rct,,yes,q\n")
    assert problems(path) == [
        f"{path}:2: column 'modality': modality does not match the taxonomy ('ablation' for "
        "'RFA') (got 'surgery')",
        f"{path}:2: column 'n': must be a positive integer (got '-3')",
        f"{path}:2: column 'time_months': survival row needs time_months",
        f"{path}:2: column 'estimate': survival estimate must lie in [0, 1] (got '1.5')",
        f"{path}:2: column 'ci_low': ci_low exceeds ci_high 0.1 (got '0.9')",
        f"{path}:2: column 'population': invalid population; expected one of: recurrent, "
        "primary, mixed (got 'x')",
    ]


def test_problems_sorted_by_line_then_column(tmp_path):
    path = tmp_path / "order.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,survival,12,x,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,B,XXX,ablation,y,os,survival,12,0.5,,,,fraction,,recurrent,rct,,yes,q\n")
    got = [p.split(": ")[0] + ":" + p.split("'")[1] for p in problems(path)]
    assert got == [f"{path}:2:estimate", f"{path}:3:treatment", f"{path}:3:n"]


def test_survival_rule_ignores_rows_not_used_by_default():
    # survival_increasing.csv has a third, rising, default_use=no row: not reported
    assert len(problems(FIXTURES / "survival_increasing.csv")) == 1


def test_survival_rule_compares_with_the_lowest_earlier_value(tmp_path):
    path = tmp_path / "s.csv"
    header = VALID.read_text().splitlines()[0]
    rows = [(12, 0.9), (24, 0.5), (36, 0.6), (60, 0.4)]
    path.write_text(header + "\n" + "".join(
        f"s1,1,A,RFA,ablation,50,os,survival,{t},{s},,,,fraction,,recurrent,rct,,yes,q\n"
        for t, s in rows))
    assert problems(path) == [
        f"{path}:4: column 'estimate': survival increases from 0.5 at 24 months (line 3) "
        "within arm 'A' of study 's1' (got '0.6')"]


def test_survival_rule_separates_outcomes_and_arms(tmp_path, taxonomy):
    path = tmp_path / "s.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,survival,12,0.5,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,A,RFA,ablation,50,rfs,survival,36,0.6,,,,fraction,,recurrent,rct,,yes,q\n"
                    "s1,1,B,RFA,ablation,50,os,survival,36,0.6,,,,fraction,,recurrent,rct,,yes,q\n")
    assert len(load_evidence(path, taxonomy=taxonomy)) == 3


def test_comparator_may_be_in_another_row_order(tmp_path, taxonomy):
    # the comparator arm is declared after the HR row
    path = tmp_path / "c.csv"
    header = VALID.read_text().splitlines()[0]
    path.write_text(header + "\n"
                    "s1,1,A,RFA,ablation,50,os,hr,,0.7,,,,ratio,B,recurrent,rct,,yes,q\n"
                    "s1,1,B,TACE,,40,enrolment,count,,,,,,patients,,recurrent,rct,,yes,q\n")
    assert len(load_evidence(path, taxonomy=taxonomy)) == 2


def test_duplicates_across_files_name_the_other_file(tmp_path):
    copy = tmp_path / "copy.csv"
    shutil.copy(VALID, copy)
    with pytest.raises(ValidationError) as info:
        load_evidence([VALID, copy], taxonomy=TREATMENTS)
    msgs = [str(p) for p in info.value.problems]
    assert len(msgs) == 10
    assert msgs[0] == f"{copy}:2: duplicate of {VALID}:2"




# --- includes: the studies a pooled row includes -------------------------------------------
INCLUDES_HEADER = ("study,ref,arm,treatment,outcome,measure,estimate,unit,population,design,"
                   "includes,source\n")


def test_includes_may_name_a_study_of_another_file(tmp_path, taxonomy):
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(INCLUDES_HEADER + "kim_15,15,TACE,TACE,os,median,20,months,recurrent,"
                                        "retrospective,,q\n")
    pooled = tmp_path / "pooled.csv"
    pooled.write_text(INCLUDES_HEADER + "meta_1,,TACE,TACE,os,median,22,months,recurrent,"
                                        "meta_analysis, kim_15 ,q\n")
    ev = load_evidence([cohort, pooled], taxonomy=taxonomy)
    assert ev.table["includes"].tolist() == ["", "kim_15"]
    # the same pooled file alone: the included study is unknown, named by file, line and column
    with pytest.raises(ValidationError) as info:
        load_evidence(pooled, taxonomy=taxonomy)
    assert [str(p) for p in info.value.problems] == [
        f"{pooled}:2: column 'includes': includes unknown study 'kim_15' (got 'kim_15')"]


def test_includes_of_the_bundled_data_are_valid_studies():
    ev = load_evidence()
    studies = set(ev.studies)
    table = ev.table
    pooled = table[table["includes"] != ""]
    assert len(pooled) > 0
    for study, cell in zip(pooled["study"], pooled["includes"]):
        labels = cell.split(";")
        assert set(labels) <= studies and study not in labels


# --- plausibility bounds ---------------------------------------------------------------------
def test_bounds_table_is_the_one_in_the_readme():
    from rhcc_bayes.core import paths
    from rhcc_bayes.evidence import schema

    readme = (paths.data_dir() / "README.md").read_text(encoding="utf-8")
    start, end = readme.index("<!-- bounds:start -->\n"), readme.index("<!-- bounds:end -->")
    assert readme[start + len("<!-- bounds:start -->\n"):end].strip() == schema.bounds_markdown()


@pytest.mark.parametrize("measure,value,ok", [
    ("median", "600", True), ("median", "600.5", False), ("hr", "99.9", True), ("hr", "100", False),
    ("survival", "1", True), ("survival", "1.0001", False), ("proportion", "0", True),
])
def test_bounds_edges(tmp_path, taxonomy, measure, value, ok):
    path = tmp_path / "edge.csv"
    header = VALID.read_text().splitlines()[0]
    time = "12" if measure == "survival" else ""
    comp = "B" if measure == "hr" else ""
    path.write_text(header + "\n"
                    f"s1,1,A,RFA,ablation,50,os,{measure},{time},{value},,,,,{comp},recurrent,"
                    "rct,,yes,q\n"
                    "s1,1,B,TACE,,40,enrolment,count,,40,,,,patients,,recurrent,rct,,yes,q\n")
    if ok:
        assert len(load_evidence(path, taxonomy=taxonomy)) == 2
    else:
        assert len(problems(path)) == 1

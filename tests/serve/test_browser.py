"""The page in a real headless browser: fill a profile, see the leading option and its numbers,
see them change with the tumour size; a bad value shows its message inline, never a traceback."""

from __future__ import annotations

import dataclasses

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.report import bottom_line as bl
from rhcc_bayes.serve.form import default_profile, form_fields, profile_from_form, widget_value

TIMEOUT_MS = 60_000  # generous: CI machines are shared (this is a wait, not a timing assertion)


def _expected_lead(posterior, profile):
    res = posterior.decide(profile)
    return bl.leading_table(res, bl.leading_options(res)).iloc[0].tolist()


def _lead_cells(page):
    return page.locator("#bottom-line table tbody tr").first.locator("td")


def _set(page, name, value):
    box = page.locator(f"#f_{name}")
    box.fill(value)
    box.press("Enter")  # text boxes update on Enter or when they lose focus


@pytest.fixture(scope="module")
def posterior(small_fit):
    return small_fit[1]


def test_leading_option_and_numbers_follow_tumour_size(page, posterior):
    from playwright.sync_api import expect

    base = default_profile()
    # fill a profile: every field from the example (select boxes by value)
    for f in form_fields():
        value = widget_value(getattr(base, f.name))
        if f.kind == "select":
            page.locator(f"#{f.input_id}").select_option(value)
        else:
            _set(page, f.name, value)
    small = _expected_lead(posterior, base)
    cells = _lead_cells(page)
    expect(cells).to_have_text([str(c) for c in small], timeout=TIMEOUT_MS)
    expect(page.locator("#bottom-line")).to_contain_text(bl.patient_line(base))
    first_curves = page.locator("#survival-curves img").get_attribute("src")

    _set(page, "tumour_size_cm", "6")
    large = _expected_lead(posterior, dataclasses.replace(base, tumour_size_cm=6.0))
    assert large != small  # the profile change matters for this posterior
    expect(cells).to_have_text([str(c) for c in large], timeout=TIMEOUT_MS)
    expect(page.locator("#bottom-line")).to_contain_text("6 cm solitary recurrent HCC")
    expect(page.locator("#survival-curves img")).not_to_have_attribute("src", first_curves, timeout=TIMEOUT_MS)
    expect(page.locator("#decision-table table tbody tr").first.locator("td").first).to_have_text(
        posterior.decide(dataclasses.replace(base, tumour_size_cm=6.0)).table["treatment"].iloc[0])


def test_bad_value_shows_inline_error_and_no_traceback(page, posterior):
    from playwright.sync_api import expect

    expect(_lead_cells(page).first).not_to_be_empty(timeout=TIMEOUT_MS)
    _set(page, "tumour_size_cm", "-2")
    values = {f.name: widget_value(getattr(default_profile(), f.name)) for f in form_fields()}
    with pytest.raises(ValidationError) as exc:
        profile_from_form({**values, "tumour_size_cm": "-2"})
    expect(page.locator("#profile-error")).to_have_text(str(exc.value), timeout=TIMEOUT_MS)
    expect(page.locator("#error-tumour_size_cm")).to_have_text("must be > 0 and <= 30 cm (got '-2')")
    expect(page.locator("#bottom-line")).to_have_count(0)
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and 'File "' not in text

    _set(page, "tumour_size_cm", "2.4")  # fixing the value brings the answer back
    expect(_lead_cells(page)).to_have_text([str(c) for c in _expected_lead(posterior, default_profile())],
                                           timeout=TIMEOUT_MS)
    expect(page.locator("#profile-error")).to_have_count(0)


class _Broken:
    """A posterior whose decision fails with a bug (not bad input)."""

    def __init__(self, posterior):
        self._posterior = posterior

    def __getattr__(self, name):
        return getattr(self._posterior, name)

    def decide(self, *args, **kwargs):
        raise ZeroDivisionError("secret internals")


def test_a_bug_shows_one_line_not_its_traceback(browser, posterior, serve_app, caplog):
    from playwright.sync_api import expect

    from rhcc_bayes.serve import create_app

    with serve_app(create_app(_Broken(posterior), default_profile())) as url:
        page = browser.new_page()
        page.goto(url)
        expect(page.locator("#profile-error")).to_have_text(
            "internal error (ZeroDivisionError); the details are in the server log", timeout=TIMEOUT_MS)
        text = page.locator("body").inner_text()
        page.close()
    assert "secret internals" not in text and "Traceback" not in text
    assert "ZeroDivisionError: secret internals" in caplog.text  # the log has the details

"""The page as served (no browser): the form starts from the profile, every field has its
widget, and a posterior that failed the diagnostics gate is flagged on the page."""

from __future__ import annotations

import dataclasses
import urllib.request

import pytest

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.serve import create_app, default_profile
from rhcc_bayes.serve.form import form_fields


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return r.read().decode()


def test_page_has_the_form(small_fit, serve_app):
    profile = dataclasses.replace(default_profile(), tumour_size_cm=3.5, child_pugh="B")
    with serve_app(create_app(small_fit[1], profile, horizon=36)) as url:
        page = _get(url)
    for f in form_fields():
        assert f'id="{f.input_id}"' in page, f.name
        assert f.label in page
    assert 'id="f_tumour_size_cm" type="text" class="shiny-input-text form-control" value="3.5"' in page
    assert '<option value="B" selected="">B</option>' in page
    assert 'id="horizon" type="text" class="shiny-input-text form-control" value="36"' in page
    assert "gate-banner" not in page and "diagnostics gate passed" in page


def test_failed_gate_is_flagged(small_fit, serve_app):
    posterior = small_fit[1]
    tree = posterior.draws.copy()
    tree.attrs = {**tree.attrs, "gate_passed": 0, "gate_failures": "r_hat 1.05 > 1.01 for mu[RFA]"}
    failed = dataclasses.replace(posterior, source=tree,
                                 gate=dataclasses.replace(posterior.gate, passed=False))
    with serve_app(create_app(failed, default_profile())) as url:
        page = _get(url)
    assert 'id="gate-banner"' in page
    assert "WARNING: THIS FIT FAILED THE DIAGNOSTICS GATE" in page and "r_hat 1.05 &gt; 1.01 for mu[RFA]" in page
    assert "diagnostics gate FAILED" in page


def test_population_is_checked(small_fit):
    with pytest.raises(UserError, match="population must be one of average, new, got 'everyone'"):
        create_app(small_fit[1], default_profile(), population="everyone")

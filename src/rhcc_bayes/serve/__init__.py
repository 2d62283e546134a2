"""``rhcc-bayes serve``: a local web page for one patient on a fitted posterior.

:func:`create_app` builds the Shiny app from a posterior (pure: no files, no fit);
:mod:`~rhcc_bayes.serve.form` turns the form into a validated profile;
:mod:`~rhcc_bayes.serve.view` renders the bottom line, decision table and curves.
"""

from rhcc_bayes.serve.app import create_app
from rhcc_bayes.serve.form import default_profile, profile_from_form
from rhcc_bayes.serve.view import decision_view

__all__ = ["create_app", "decision_view", "default_profile", "profile_from_form"]

"""Sub-commands of the ``rhcc-bayes`` CLI, one module each (see ``rhcc_bayes.cli``)."""

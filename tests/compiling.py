"""Compiled log densities of whole survival models for tests: Python ops, no C compile.

Compiling the default model's log density and gradient in PyTensor's default mode costs
~250 s on an empty compile cache (graph rewrites plus ~215 C modules fused for this graph),
and 60-130 s of rewrites for every further variant a test builds (padded vs exact IPD cells,
held-out vs removed rows, shifted vs unshifted coordinates), in every process. Tests evaluate
a few points, so they compile with ``FAST_COMPILE`` (few rewrites, NumPy implementations):
27-29 s per model with nothing compiled in C, ~90 ms per evaluation (measured 2026-12-01,
model .13, load ~1). Values agree with the default mode to rounding.

The density is summed from the per-variable terms through one vector: ``model.logp()`` adds
its ~40 terms in one elementwise Add, which NumPy cannot evaluate (at most 32 operands).
"""

from __future__ import annotations

MODE = "FAST_COMPILE"


def density(model, jacobian: bool = True):
    """``model.logp(jacobian=jacobian)`` as one sum over the concatenated terms."""
    import pytensor.tensor as pt

    return pt.concatenate([pt.flatten(term) for term in model.logp(jacobian=jacobian, sum=False)]).sum()


def function(model, outputs):
    """``outputs`` (the model's random variables replaced by their values) as a function of a
    point (a dict of value variables by name), returning a list."""
    return model.compile_fn(model.replace_rvs_by_values(outputs), inputs=model.value_vars,
                            on_unused_input="ignore", mode=MODE)


def log_density(model, jacobian: bool = True, extra=()):
    """Point -> (log density, flat gradient over the value variables, *extra outputs), in one
    compiled function (one compile: each is a whole-model graph)."""
    import pytensor.tensor as pt

    logp = density(model, jacobian)
    grad = pt.concatenate([pt.flatten(g) for g in pt.grad(logp, model.value_vars)])
    fn = function(model, [logp, grad, *extra])
    return lambda point: tuple(fn(point))

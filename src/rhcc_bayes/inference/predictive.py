"""Posterior predictive draws for every posterior draw in one compiled call.

``pm.sample_posterior_predictive`` compiles a forward-sampling function and calls it once
per posterior draw from Python. Here the same forward graph -- the same inputs taken from
the trace, the same variables resampled (PyMC's rules of
``compile_forward_sampling_function``) -- is vectorised over a leading draw dimension,
compiled once per model and process, and called on all draws at once (in chunks, in
order). Each random variable keeps its own generator, seeded exactly as PyMC seeds it
(``SeedSequence(seed).spawn``, in the order PyMC collects them), and NumPy fills a batched
draw element by element in C order, which is the order of PyMC's per-draw loop: the draws
are PyMC's, value for value (``tests/inference/test_predictive.py``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from rhcc_bayes.inference.pointwise import POST_FIT_MODE, batched, call_in_chunks, memoised, stacked, vectorize

_log = logging.getLogger(__name__)


def _trace_inputs(model, outputs, vars_in_trace, constant_data: dict, constant_coords: set):
    """The forward function's inputs and the resampled RVs, by PyMC's rules (no givens).

    A variable is volatile (recomputed or redrawn, not read from the trace) when it is an
    output, a shared variable whose value differs from ``constant_data`` (or that is neither
    constant data nor a constant coordinate), a basic RV not in the trace, or depends on a
    volatile variable; non-volatile trace variables are inputs.
    """
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import general_toposort, walk
    from pytensor.tensor.random.var import RandomGeneratorSharedVariable

    def shared_matches(var) -> bool:
        if var.name not in constant_data:
            return var.name in constant_coords
        return np.array_equal(constant_data[var.name], var.get_value(borrow=True))

    basic_rvs, in_trace = set(model.basic_RVs), set(vars_in_trace)
    volatile: set = set()
    for node in general_toposort(outputs, deps=lambda x: x.owner.inputs if x.owner else []):
        if (node in outputs
                or (isinstance(node, SharedVariable) and not isinstance(node, RandomGeneratorSharedVariable)
                    and not shared_matches(node))
                or (node in basic_rvs and node not in in_trace)
                or (node.owner and any(i in volatile for i in node.owner.inputs))):
            volatile.add(node)
    inputs = []

    def expand(node):
        if ((node.owner is None and not isinstance(node, Constant | SharedVariable)) or node in in_trace) \
                and node not in volatile:
            inputs.append(node)
        return node.owner.inputs if node.owner else None

    list(walk(outputs, expand))
    return inputs, basic_rvs & volatile


def _compile(model, outputs: list, inputs: list):
    """The forward function vectorised over draws, and its RNGs in PyMC's seeding order."""
    import pytensor.tensor as pt
    from pymc.pytensorf import collect_default_updates
    from pymc.pytensorf import compile as pm_compile
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.op import RandomVariable, RNGConsumerOp
    from pytensor.tensor.random.utils import compute_batch_shape
    from pytensor.tensor.type_other import NoneTypeT

    # PyMC seeds one generator per RV, in the order it collects their updates on this graph.
    rngs = list(collect_default_updates(inputs=inputs, outputs=outputs))
    n_draws = pt.scalar("n_draws", dtype="int64")
    replace = {v: batched(v) for v in inputs}
    # An RV none of whose ancestors is an input or another RV is not batched by vectorisation:
    # it gets the draw dimension as a leading size, keeping its generator (PyMC's
    # change_dist_size would give it a new one, outside the seeding order).
    rvs = {v for v in ancestors(outputs, blockers=inputs)
           if v not in replace and v.owner is not None and isinstance(v.owner.op, RNGConsumerOp)}
    for rv in rvs:
        if not (set(ancestors(rv.owner.inputs, blockers=inputs)) & (rvs | set(inputs))):
            if not isinstance(rv.owner.op, RandomVariable):
                raise NotImplementedError(f"{rv.name}: a {type(rv.owner.op).__name__} that depends on no posterior "
                                          "value cannot be given the draw dimension with its generator")
            op, node = rv.owner.op, rv.owner
            params, size = op.dist_params(node), op.size_param(node)
            if isinstance(size.type, NoneTypeT):  # not rv.shape: a second client of the RNG loses its update
                size = compute_batch_shape(params, op.ndims_params)
            size = pt.concatenate([pt.stack([n_draws]), pt.as_tensor(size, dtype="int64")])
            new = op.make_node(op.rng_param(node), size, *params)
            replace[rv] = new.outputs[rv.owner.outputs.index(rv)]
    # Not canonicalised first as in pointwise: that rewrites the model's own graph in place
    # and reorders some normal draws.
    vectorised = vectorize(outputs, replace)
    with model:  # PyMC's compile reads check_bounds from the model context
        fn = pm_compile([n_draws, *(replace[v] for v in inputs)], vectorised, on_unused_input="ignore",
                        allow_input_downcast=True, accept_inplace=True, mode=POST_FIT_MODE)
    return fn, rngs


def _function(model, var_names, trace_names: list[str], constant_data: dict, trace_coords: dict):
    """The (memoised) forward function for this trace: ``(fn, rngs, outputs, inputs)``."""
    from pymc.sampling.forward import get_constant_coords
    from pymc.util import get_default_varnames

    traceable = {v.name for v in (*model.free_RVs, *model.deterministics)}
    outputs = list(get_default_varnames([model[n] for n in var_names], include_transformed=False))
    inputs, volatile = _trace_inputs(model, outputs, [model[n] for n in trace_names if n in traceable],
                                     constant_data, get_constant_coords(trace_coords, model))
    missing = [v.name for v in inputs if v.name not in trace_names]
    if missing:
        raise KeyError(f"the posterior lacks {missing}")
    _log.info("Sampling: %s", sorted(v.name for v in volatile))
    key = ("posterior_predictive", tuple(v.name for v in outputs), tuple(v.name for v in inputs))
    fn, rngs = memoised(model, key, lambda: _compile(model, outputs, inputs))
    return fn, rngs, outputs, inputs


def prepare(model, var_names) -> None:
    """Compile (memoise) the function :func:`posterior_predictive` will use after a fit of ``model``.

    Assumes the posterior will hold every free variable and deterministic, with the model's
    current data and coords (what :func:`~rhcc_bayes.inference.sampling.sample` produces); if
    it does not, :func:`posterior_predictive` compiles its own function.
    """
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    data = {v.name: v.get_value() for v in model.data_vars}
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}
    _function(model, var_names, names, data, coords)


def posterior_predictive(idata, model, *, var_names: Sequence[str], seed: int,
                         sample_dims: Sequence[str] = ("chain", "draw")):
    """Posterior predictive draws of ``var_names``, as ``pm.sample_posterior_predictive`` makes them.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior`` (and ``constant_data`` when the model has ``pm.Data``).
    model : pm.Model
        The model that was sampled.
    var_names : sequence of str
        Variables to draw (observed variables and deterministics depending on them).
    seed : int
        Seeds one generator per random variable (as PyMC does with ``random_seed=seed``).
    sample_dims : sequence of str
        The posterior's sample dimensions.

    Returns
    -------
    arviz.InferenceData
        With the ``posterior_predictive`` group only (``idata.extend`` it).
    """
    import numpy as np
    import pymc as pm
    from pymc.pytensorf import reseed_rngs

    if model.potentials:
        warnings.warn("The effect of Potentials on other parameters is ignored during posterior predictive "
                      "sampling. This is likely to lead to invalid or biased predictive samples.",
                      UserWarning, stacklevel=2)
    posterior = idata["posterior"]
    constant = getattr(idata, "constant_data", None)
    trace_coords = {str(k): v.data for k, v in constant.coords.items()} if constant is not None else {}
    trace_coords.update({str(k): v.data for k, v in posterior.coords.items()})
    constant_data = {str(k): v.data for k, v in constant.items()} if constant is not None else {}
    trace_names = [str(k) for k in posterior.data_vars]
    fn, rngs, outputs, inputs = _function(model, var_names, trace_names, constant_data, trace_coords)
    reseed_rngs(rngs, seed)

    n = int(np.prod([posterior.sizes[d] for d in sample_dims]))
    arrays = stacked(posterior, [v.name for v in inputs], [v.type.dtype for v in inputs], sample_dims)
    values = call_in_chunks(lambda m, *a: fn(np.int64(m), *a), arrays, n, [v.type.ndim for v in outputs])
    shape = [posterior.sizes[d] for d in sample_dims]
    draws = {v.name: x.reshape(*shape, *x.shape[1:]) for v, x in zip(outputs, values, strict=True)}
    return pm.to_inference_data(posterior_predictive=draws, model=model, sample_dims=list(sample_dims),
                                coords={d: posterior.coords[d].values for d in sample_dims})

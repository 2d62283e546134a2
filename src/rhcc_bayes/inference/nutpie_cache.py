"""nutpie's numba compile with its C wrappers cached on disk, so a new process does not recompile.

``nutpie.compile_pymc_model`` builds the log density and its gradient as PyTensor
functions (their numba code is cached by PyTensor, keyed by the rewritten graph) and then
wraps each in a ``numba.cfunc`` defined as a closure. Those wrappers can never be cached
(numba refuses closures over dispatchers and writes new cache files every process), and
typing plus LLVM-compiling them is most of a warm refit's compile time.

Here the wrappers are generated as source text whose only variable parts are literals
(the dimensions) and whose callee is PyTensor's cached dispatcher, registered with
PyTensor's numba cache locator under a key derived from PyTensor's own graph key. A new
process with the same model graph therefore loads the wrappers from disk. The numbers
they compute are those of nutpie's own wrappers (same inner functions, same checks), so
draws are unchanged.

Shared variables (observed data, ``pm.Data``) are read at run time from a flat table
of addresses, sizes and shapes (``user_data``), so only their dtypes and ranks enter the
generated source: new observations of the same ranks reuse the cached wrappers.

Even with every numba function on disk, a new process still spent ~8 s (default model) in
PyTensor: building ``model.logp()``, rewriting it, taking the gradient, rewriting logp+grad
and the deterministics, the shape and initial-point functions. :func:`compile_cached`
therefore records, after a full compile, everything else nutpie needs in a JSON index
(:mod:`rhcc_bayes.inference.compile_index`) under a key of the model graph. A new process
with the same key loads PyTensor's inner functions and the wrappers from the numba cache by
their keys alone (stand-in Python functions numba never types), reads the shared data from
the model and replays the recorded initial-point rule: ~0.2-0.4 s, no PyTensor rewrite,
the same machine code and the same draws.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

from rhcc_bayes.core.errors import UserError

#: Bump when the generated source below changes meaning (it is part of the cache key).
WRAPPER_VERSION = "4"  # 4: shared arrays unpacked before the try block into an argument tuple (any count)

_LOGP_SRC = """
def rhcc_logp_wrapper(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    x = carray(x_, ({n_dim},))
{unpack}
    try:
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
        logp_val, grad = inner(*args)
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def rhcc_expand_wrapper(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    x = carray(x_, ({n_dim},))
{unpack}
    try:
        out = carray(out_, ({n_expanded},))
        (values,) = inner(*args)
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _readonly_intrinsic():
    """A numba intrinsic typing an array as read-only (a no-op at run time).

    nutpie types its shared arrays read-only; typing ours the same way gives the inner
    function the very signature nutpie compiles, hence the same machine code and draws.
    """
    from numba.core.imputils import impl_ret_borrowed
    from numba.extending import intrinsic

    @intrinsic
    def as_readonly(typingctx, arr):
        def codegen(context, builder, signature, args):
            return impl_ret_borrowed(context, builder, signature.return_type, args[0])

        return arr.copy(readonly=True)(arr), codegen

    return as_readonly


_AS_READONLY = None


def _unpack_source(shared: list, layout: dict[str, int]) -> str:
    """Source lines that rebuild each shared array from the ``user_data`` table into ``args``,
    the inner function's argument tuple ``(x, *shared)``."""
    # outside the wrapper's try block: numba splits a try block at every statement, and its
    # liveness analysis then grows with blocks x variables
    lines = ["    ud = carray(user_data_, (%d,), np.uint64)" % layout["__len__"]]
    names = ["x"]
    for i, var in enumerate(shared):
        k, ndim = layout[var.name], var.type.ndim
        shape = "".join(f"int(ud[{k + 2 + d}])," for d in range(ndim))
        lines.append(f"    s{i} = readonly(carray(as_pointer(ud[{k}]), (int(ud[{k + 1}]),), "
                     f"np.{var.type.dtype}).reshape(({shape})))")
        names.append(f"s{i}")
    # CPython builds a call or tuple of more than 30 items through a list (LIST_TO_TUPLE),
    # which numba cannot compile: the argument tuple grows in chunks of at most 20
    lines.append("    args = ()")
    for j in range(0, len(names), 20):
        lines.append("    args = args + (" + "".join(f"{n}, " for n in names[j:j + 20]) + ")")
    return "\n".join(lines)


def make_user_data(shared_data: dict) -> tuple[Any, dict[str, int]]:
    """Flat uint64 table ``[address, size, *shape]`` per shared array, and each array's offset in it."""
    import numpy as np

    layout, entries = {}, []
    for name, arr in shared_data.items():
        layout[name] = len(entries)
        entries += [arr.ctypes.data, arr.size, *arr.shape]
    layout["__len__"] = max(len(entries), 1)
    return np.array(entries or [0], dtype=np.uint64), layout


def _preload(inner, n_dim: int, arrays: list) -> None:
    """Load (or compile) PyTensor's inner function on its own, with the wrapper's argument types.

    Done in every process before the wrapper is built: the wrapper's calls then resolve to
    this standalone code whether the wrapper was compiled now or loaded from disk, so a cold
    and a warm compile cache run the same machine code (bit-identical gradients and draws).
    A Python-level call types the arguments exactly as the wrapper does (C-contiguous, the
    shared arrays read-only); its result is discarded.
    """
    import numpy as np

    try:
        inner(np.zeros(n_dim), *arrays)
    except Exception:  # noqa: BLE001 - only the compile matters; a NaN/raise at 0 is irrelevant
        pass


def _wrapper_source(template: str, inner_key: str, shared, layout, **literals) -> tuple[str, str]:
    """The wrapper's source and its numba cache key (a hash of the source and of its callee's graph key)."""
    src = template.format(unpack=_unpack_source(shared, layout), **literals)
    return src, hashlib.sha256(f"{WRAPPER_VERSION}\n{inner_key}\n{src}".encode()).hexdigest()


def _cfunc_from_source(src: str, name: str, sig, inner, key: str, cache_only: bool = False):
    """``numba.cfunc`` of generated wrapper source, registered in PyTensor's numba cache under ``key``.

    With ``cache_only`` the callee is a stand-in that numba cannot type: the wrapper must load
    from the cache (its object code holds the callee's), or this raises.
    """
    import numba
    import numpy as np
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    global _AS_READONLY
    if _AS_READONLY is None:
        _AS_READONLY = _readonly_intrinsic()
    fn = compile_numba_function_src(src, name, {"__name__": __name__, "np": np, "carray": numba.carray, "inner": inner,
                                                   "as_pointer": address_as_void_pointer, "readonly": _AS_READONLY}, cache_key=key)
    if cache_only:
        cfunc = numba.cfunc(sig, cache=True)(fn)
        if cfunc.cache_hits < 1:
            raise LookupError(f"{name} is not in the numba cache")
        return cfunc
    try:
        return numba.cfunc(sig, cache=True)(fn)
    except Exception as exc:  # an unreadable cache entry must cost a compile, never the fit
        warnings.warn(f"numba cache of {name} unusable ({exc!r}); compiling without it", RuntimeWarning)
        return numba.cfunc(sig)(fn)


def _not_loaded(*args):
    """Stand-in callee of a wrapper loaded from the numba cache; numba cannot type it, so never compiles it."""
    raise RuntimeError("a cached nutpie wrapper was compiled instead of loaded")


def _graph_key(jit_fn) -> str | None:
    """PyTensor's cache key of a compiled function graph, or ``None`` when it is not cacheable."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    return CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))


def _readonly_copy(value, dtype=None):
    """A C-contiguous, read-only copy of ``value``: how nutpie's shared arrays are typed and kept."""
    import numpy as np

    arr = np.array(value, dtype=dtype, order="C", copy=True)
    arr.flags.writeable = False
    return arr


def _unique_by_name(variables) -> dict[str, Any]:
    """``{name: variable}``; two different variables of one name are an error (the table is by name)."""
    found: dict[str, Any] = {}
    for var in variables:
        if found.setdefault(var.name, var) is not var:
            raise ValueError(f"shared variables must have unique names: {var.name}")
    return found


def _cached_model_class():
    """nutpie's ``CompiledPyMCModel`` whose ``with_data`` rebuilds this module's ``user_data`` table."""
    import dataclasses

    from nutpie.compile_pymc import CompiledPyMCModel

    class CachedPyMCModel(CompiledPyMCModel):
        def with_data(self, **updates):
            shared = dict(self.shared_data)
            for name, value in updates.items():
                if name not in shared:
                    raise KeyError(f"Unknown shared variable: {name}")
                new = _readonly_copy(value, shared[name].dtype)
                if new.ndim != shared[name].ndim:
                    raise ValueError(f"Shared variable {name} must have rank {shared[name].ndim}")
                shared[name] = new
            user_data, _ = make_user_data(shared)  # offsets depend on ranks only: same layout
            return dataclasses.replace(self, shared_data=shared, user_data=user_data)

    return CachedPyMCModel


def _signatures():
    import numba

    t = numba.types
    logp = t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    expand = t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr)
    return logp, expand


def compile_cached(model) -> tuple[Any, bool]:
    """Compile ``model`` for nutpie: from the compile index when warm, else in full (and index it).

    PyTensor's numba functions are compiled without fastmath (``numba__fastmath=False``):
    with it, a function compiled afresh and the same function loaded from the numba cache
    differ in the last bits of some gradients on the default model (LLVM may reassociate
    differently once the per-op functions are linked in), so a process with an empty cache
    drew differently from all later ones. Without it the two are bit-identical; the log
    density with its gradient costs ~1-2% more (default model, 54 vs 53 us).

    Warm (an index entry for :func:`~rhcc_bayes.inference.compile_index.model_key`): the
    wrappers load from the numba cache, the shared data are read from the model and the
    initial points come from the recorded rule -- no PyTensor rewrite or compile. The
    result's ``logp_func`` / ``expand_func`` (PyTensor functions nutpie keeps for reference,
    unused when sampling or by ``with_data``) are then ``None``. A missing entry compiles in
    full; an unusable one (corrupt file, stale numba cache, data of another layout) warns and
    compiles in full. The numbers are the same either way, and with an empty numba cache.

    Returns
    -------
    (compiled, cached) : (nutpie CompiledPyMCModel, bool)
        ``cached`` is false when the model needed nutpie's own (uncacheable) compile.
    """
    with _nutpie_flags():
        return _compile_cached(model)


def compile_full(model) -> tuple[Any, bool, dict | None]:
    """The full compile :func:`compile_cached` falls back to (no index lookup, none written).

    Returns ``(compiled, cached, entry)``: the compiled model keeps its PyTensor functions
    (``logp_func``, ``expand_func``), and ``entry`` is the index entry it would record
    (``None`` when the model cannot be indexed).
    """
    with _nutpie_flags():
        return _compile_full(model)


def _nutpie_flags():
    """PyTensor settings of every compile here (see :func:`compile_cached` on fastmath)."""
    import pytensor

    return pytensor.config.change_flags(numba__fastmath=False)


def index_key(model) -> str | None:
    """The compile-index key :func:`compile_cached` uses for ``model``; ``None`` when it has none."""
    import pytensor

    from rhcc_bayes.inference import compile_index

    with _nutpie_flags():
        try:  # without PyTensor's numba cache there is nothing to load the wrappers from
            return compile_index.model_key(model, WRAPPER_VERSION) if pytensor.config.numba__cache else None
        except compile_index.Unkeyable:
            return None


def _compile_cached(model) -> tuple[Any, bool]:
    from rhcc_bayes.inference import compile_index

    key = index_key(model)
    if key is not None:
        try:
            entry = compile_index.read_entry(key)
            if entry is not None:
                return _compile_from_entry(model, entry), True
        except Exception as exc:  # noqa: BLE001 - any unusable entry means: compile in full
            warnings.warn(f"compile index entry {key[:12]} unusable ({exc!r}); compiling the model in full",
                          RuntimeWarning)
    compiled, cached, entry = _compile_full(model)
    if key is not None and entry is not None:
        try:
            compile_index.write_entry(key, entry)
        except (OSError, UserError) as exc:
            warnings.warn(f"cannot write the compile index ({exc}); the next process compiles in full", RuntimeWarning)
    return compiled, cached


def _support_points(model) -> dict:
    """Every free variable's support point (constrained scale), evaluated at the others' support points."""
    from pymc.initial_point import make_initial_point_fn

    point = make_initial_point_fn(model=model, overrides=None, default_strategy="support_point",
                                  jitter_rvs=set(), return_transformed=False)(0)
    return {rv: point[rv.name] for rv in model.free_RVs}


def _compile_full(model) -> tuple[Any, bool, dict | None]:
    """nutpie's compile with cacheable wrappers, and the index entry describing it (``None``: not indexable)."""
    import numba
    import nutpie
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    from rhcc_bayes.inference.compile_index import initial_point_rule, make_initial_point_func

    # As nutpie.compile_pymc_model(model) with its defaults (support-point start, jittered),
    # except that each variable starts from its support point at the OTHER variables' support
    # points (PyMC evaluates it at their jittered starts): a variable whose mean is another
    # variable then still has a fixed centre for its jitter, which the compile index can replay.
    # Identical to nutpie's start when no support point depends on another variable.
    pymc_initial_point = cp._wrap_with_lock(make_initial_point_fn(
        model=model, overrides=_support_points(model), default_strategy="support_point",
        jitter_rvs=set(model.free_RVs), return_transformed=True))
    n_dim, n_expanded, logp_pt, expand_pt, init_fn, shape_info = cp._make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=pymc_initial_point, var_names=None)
    logp_key, expand_key = _graph_key(logp_pt.vm.jit_fn), _graph_key(expand_pt.vm.jit_fn)
    if logp_key is None or expand_key is None:
        return nutpie.compile_pymc_model(model), False, None
    shared_vars = _unique_by_name([*logp_pt.get_shared(), *expand_pt.get_shared()])
    shared_data = {name: _readonly_copy(var.get_value()) for name, var in shared_vars.items()}
    user_data, layout = make_user_data(shared_data)

    logp_sig, expand_sig = _signatures()
    logp_src, logp_cache_key = _wrapper_source(_LOGP_SRC, logp_key, logp_pt.get_shared(), layout, n_dim=n_dim)
    expand_src, expand_cache_key = _wrapper_source(_EXPAND_SRC, expand_key, expand_pt.get_shared(), layout,
                                                   n_dim=n_dim, n_expanded=n_expanded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        _preload(logp_pt.vm.jit_fn, n_dim, [shared_data[v.name] for v in logp_pt.get_shared()])
        _preload(expand_pt.vm.jit_fn, n_dim, [shared_data[v.name] for v in expand_pt.get_shared()])
        logp_c = _cfunc_from_source(logp_src, "rhcc_logp_wrapper", logp_sig, logp_pt.vm.jit_fn, logp_cache_key)
        expand_c = _cfunc_from_source(expand_src, "rhcc_expand_wrapper", expand_sig, expand_pt.vm.jit_fn,
                                      expand_cache_key)
    names, slices, shapes = shape_info
    rule = initial_point_rule(model, pymc_initial_point, names[:len(model.free_RVs)], shapes[:len(model.free_RVs)])
    if rule is not None:  # the start an index entry replays (PyMC's, but see initial_point_rule on bounds)
        init_fn = make_initial_point_func(rule)
    compiled = _assemble(model, n_dim, n_expanded, shape_info, logp_c, expand_c, init_fn, shared_data,
                         user_data, logp_func=logp_pt, expand_func=expand_pt)
    if rule is None:
        return compiled, True, None
    entry = {
        "n_dim": int(n_dim), "n_expanded": int(n_expanded),
        "shape_info": {"names": list(names), "slices": [[int(s.start), int(s.stop)] for s in slices],
                       "shapes": [[int(d) for d in shape] for shape in shapes]},
        "shared": [{"name": name, "dtype": arr.dtype.str, "ndim": arr.ndim} for name, arr in shared_data.items()],
        "layout": layout,
        "wrappers": {"logp": {"src": logp_src, "key": logp_cache_key,
                              "inner": _inner_record(logp_pt, logp_key)},
                     "expand": {"src": expand_src, "key": expand_cache_key,
                                "inner": _inner_record(expand_pt, expand_key)}},
        "initial_point": rule,
    }
    return compiled, True, entry


def _inner_record(fn_pt, key: str) -> dict:
    """What loads PyTensor's compiled function of ``fn_pt`` from the numba cache without its graph."""
    py_func = fn_pt.vm.jit_fn.py_func
    return {"src": py_func.__source__, "name": py_func.__name__, "module": py_func.__module__, "key": key,
            "shared": [v.name for v in fn_pt.get_shared()]}


class _Untypable:
    """The stand-in callee of a function loaded from the numba cache: typing it fails, so it is never compiled."""


def _load_inner(record: dict, n_dim: int, shared_data: dict):
    """PyTensor's numba function of a graph, loaded from the numba cache by its key alone.

    The stand-in has the name, module and key of PyTensor's own (hence the same cache entry)
    and a callee numba cannot type: a cache miss raises instead of compiling something else.
    Loaded standalone as in the full compile (see :func:`_preload`), so the wrapper runs the
    same machine code.
    """
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit

    fn = compile_numba_function_src(record["src"], record["name"],
                                    {"__name__": record["module"], "jitable_func": _Untypable()},
                                    cache_key=record["key"])
    inner = numba_njit(fn, final_function=True, cache=True)
    _preload(inner, n_dim, [shared_data[name] for name in record["shared"]])
    if sum(inner.stats.cache_hits.values()) < 1:
        raise LookupError(f"PyTensor's function {record['key'][:12]} is not in the numba cache")
    return inner


def _model_shared(model) -> dict[str, Any]:
    """The model's named, non-RNG shared variables (observed data, ``pm.Data``, dim lengths) by name."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.type import RandomType

    outputs = [*model.basic_RVs, *model.deterministics, *model.potentials,
               *(model.rvs_to_values[v] for v in model.observed_RVs)]
    return _unique_by_name(var for var in ancestors(outputs) if isinstance(var, SharedVariable)
                           and not isinstance(var.type, RandomType) and var.name is not None)


def _compile_from_entry(model, entry: dict):
    """nutpie's compiled model rebuilt from an index entry, without PyTensor (see :func:`compile_cached`)."""
    import numba
    import numpy as np

    from rhcc_bayes.inference.compile_index import make_initial_point_func

    available = _model_shared(model)
    shared_data = {}
    for spec in entry["shared"]:
        name = spec["name"]
        if name not in available:
            raise KeyError(f"the model has no shared variable {name!r}")
        arr = _readonly_copy(available[name].get_value())
        if arr.dtype.str != spec["dtype"] or arr.ndim != spec["ndim"]:
            raise ValueError(f"shared variable {name!r} is {arr.dtype.str}[{arr.ndim}], "
                             f"the index says {spec['dtype']}[{spec['ndim']}]")
        shared_data[name] = arr
    user_data, layout = make_user_data(shared_data)
    if layout != entry["layout"]:
        raise ValueError("the shared-data layout differs from the index")
    n_dim, n_expanded = int(entry["n_dim"]), int(entry["n_expanded"])
    info = entry["shape_info"]
    shape_info = (list(info["names"]), [slice(a, b) for a, b in info["slices"]],
                  [np.array(shape, dtype=np.int64) for shape in info["shapes"]])
    logp_sig, expand_sig = _signatures()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        wrappers = entry["wrappers"]
        _load_inner(wrappers["logp"]["inner"], n_dim, shared_data)
        _load_inner(wrappers["expand"]["inner"], n_dim, shared_data)
        logp_c = _cfunc_from_source(wrappers["logp"]["src"], "rhcc_logp_wrapper", logp_sig, _not_loaded,
                                    wrappers["logp"]["key"], cache_only=True)
        expand_c = _cfunc_from_source(wrappers["expand"]["src"], "rhcc_expand_wrapper", expand_sig, _not_loaded,
                                      wrappers["expand"]["key"], cache_only=True)
    return _assemble(model, n_dim, n_expanded, shape_info, logp_c, expand_c,
                     make_initial_point_func(entry["initial_point"]), shared_data, user_data)


def _assemble(model, n_dim, n_expanded, shape_info, logp_c, expand_c, init_fn, shared_data, user_data,
              logp_func=None, expand_func=None):
    """nutpie's compiled model from its parts (the same whether compiled in full or from the index)."""
    from nutpie import compile_pymc as cp

    dims, coords = cp._prepare_dims_and_coords(model, shape_info)
    return _cached_model_class()(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_c, compiled_expand_func=expand_c, initial_point_func=init_fn,
        shared_data=shared_data, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_func, expand_func=expand_func)

"""A key for a PyMC model's graph, and a JSON index of what nutpie needs besides the graph.

A warm new process must not re-run PyTensor's graph rewrites (most of a refit's compile
time). :func:`model_key` hashes what the compiled functions are derived from -- the model's
generative graph (ops with their properties, constants, static types, shared variables by
shape -- by value only where they set shapes or priors), its value variables, transforms,
initial values and the versions of every package that turns it into machine code -- in a
few milliseconds, without building ``model.logp()``. New values of data containers of the
same shapes therefore find the entry: nutpie reads shared data at run time.
Anything it cannot hash exactly (an op or property of unknown kind) makes the model
unkeyable: it is then always compiled in full, never looked up.

One JSON file per key, written atomically next to PyTensor's numba cache
(``pytensor.config.base_compiledir``), records the rest: dimensions, shapes, the
shared-variable table layout, the generated C-wrapper sources with their numba cache keys,
and the initial-point rule (:func:`initial_point_rule`). No pickle: a file that does not
parse or validate is ignored (the caller compiles in full and rewrites it).
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Callable
from typing import Any

#: Bump when the meaning of an index entry or of the key changes.
INDEX_VERSION = "3"  # 2: shared data keyed by shape, not value; 3: per-variable start jitter
_PACKAGES = ("pymc", "pytensor", "nutpie", "numba", "llvmlite", "numpy")
#: Cache attributes of ``OpFromGraph`` ops, filled lazily; they do not define the op.
_OP_CACHE_ATTRS = frozenset({"_lop_op_cache", "_rop_op_cache", "_lop_op_interface", "_connection_pattern"})


class Unkeyable(Exception):
    """The model contains something :func:`model_key` cannot hash exactly."""


class _Hasher:
    """Canonical text of PyTensor graphs, fed into one sha256."""

    def __init__(self, shared_by_value=None) -> None:
        self._sha = hashlib.sha256()
        self._ids: dict[Any, str] = {}
        self._ops: dict[int, str] = {}
        #: shared variables hashed by value (see :func:`model_key`); ``None``: all of them
        self._shared_by_value = shared_by_value

    def add(self, text: str) -> None:
        self._sha.update(text.encode())
        self._sha.update(b"\n")

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def canon(self, obj) -> str:
        """Exact text of an op property / attribute; raises :class:`Unkeyable` on unknown kinds."""
        import numpy as np
        from pytensor.graph.basic import Variable
        from pytensor.graph.fg import FunctionGraph
        from pytensor.graph.op import Op
        from pytensor.graph.type import Type
        from pytensor.scalar.basic import ScalarOp

        if obj is None or isinstance(obj, bool | int | float | str):
            return f"{type(obj).__name__}:{obj!r}"
        if isinstance(obj, np.ndarray | np.generic):
            arr = np.ascontiguousarray(obj)
            return f"nd:{arr.dtype.str}:{arr.shape}:{hashlib.sha256(arr.tobytes()).hexdigest()}"
        if isinstance(obj, np.dtype):
            return f"dtype:{obj.str}"
        if isinstance(obj, tuple | list):
            return f"{type(obj).__name__}(" + ",".join(self.canon(v) for v in obj) + ")"
        if isinstance(obj, dict) or type(obj).__name__ == "frozendict":
            items = sorted((self.canon(k), self.canon(v)) for k, v in obj.items())
            return "dict(" + ",".join(f"{k}={v}" for k, v in items) + ")"
        if isinstance(obj, slice):
            return f"slice({self.canon(obj.start)},{self.canon(obj.stop)},{self.canon(obj.step)})"
        if isinstance(obj, Type):  # by properties: a repr may hold a memory address
            props = tuple(obj._props()) if getattr(obj, "__props__", None) is not None else vars(obj)
            return f"type:{type(obj).__module__}.{type(obj).__qualname__}:{self.canon(props)}"
        if isinstance(obj, Op | ScalarOp):
            return self.op(obj)
        if isinstance(obj, FunctionGraph):
            return self.graph(obj.inputs, obj.outputs, inner=True)
        if isinstance(obj, Variable):  # e.g. an initial value given as an expression
            return self.var(obj) if obj.owner is None else "graph:" + self.graph([], [obj], inner=True)
        if isinstance(obj, type):
            return f"class:{obj.__module__}.{obj.__qualname__}"
        if isinstance(obj, types.FunctionType):
            return self.function(obj)
        if type(obj).__module__.split(".")[0] in ("pytensor", "pymc") and hasattr(obj, "__dict__"):
            # library helper objects (scalar output-type rules, transforms) are defined by their attributes
            return f"obj:{type(obj).__module__}.{type(obj).__qualname__}:{self.canon(vars(obj))}"
        if type(obj).__module__.startswith("rhcc_bayes.") and hasattr(obj, "__dict__"):
            # the project's own transforms (survival.transforms.NormalSoftplusBound, the default model's
            # steps and scales since model .11): by their attributes and their module's source,
            # which holds the helpers their methods call, so any edit of it misses the index
            path = getattr(sys.modules.get(type(obj).__module__), "__file__", None)
            if path is None:
                raise Unkeyable(f"cannot hash {type(obj).__qualname__} exactly (no module source)")
            with open(path, "rb") as f:
                source = hashlib.sha256(f.read()).hexdigest()
            return f"obj:{type(obj).__module__}.{type(obj).__qualname__}:{source}:{self.canon(vars(obj))}"
        raise Unkeyable(f"cannot hash {type(obj).__qualname__} exactly")

    def function(self, fn) -> str:
        """A Python function by name, bytecode, constants, defaults and closure."""
        code = fn.__code__
        consts = tuple(c for c in code.co_consts if not isinstance(c, types.CodeType))
        body = hashlib.sha256(code.co_code + repr((code.co_names, consts)).encode()).hexdigest()
        cells = tuple(c.cell_contents for c in fn.__closure__ or ())
        return (f"fn:{fn.__module__}.{fn.__qualname__}:{body}:{self.canon(fn.__defaults__)}:"
                f"{self.canon(fn.__kwdefaults__)}:{self.canon(cells)}")

    def op(self, op) -> str:
        if id(op) in self._ops:
            return self._ops[id(op)]
        cls = f"op:{type(op).__module__}.{type(op).__qualname__}"
        if getattr(op, "__props__", None) is not None:
            text = cls + self.canon(tuple(op._props()))
        else:  # ops compared by identity (OpFromGraph, symbolic RVs): all defining attributes
            attrs = {k: v for k, v in vars(op).items() if k not in _OP_CACHE_ATTRS}
            text = cls + self.canon(attrs)
        self._ops[id(op)] = text
        return text

    def var(self, var) -> str:
        """Text of a root variable (the caller's graph walk names the others)."""
        from pytensor.compile.sharedvalue import SharedVariable
        from pytensor.graph.basic import Constant
        from pytensor.tensor.random.type import RandomType

        kind = self.canon(var.type)
        if isinstance(var, Constant):
            return f"const:{kind}:{self.canon(var.data)}"
        if isinstance(var, SharedVariable):
            # an RNG's state does not enter the log density or the compiled code
            if isinstance(var.type, RandomType):
                return f"shared:{var.name!r}:{kind}:rng"
            value = var.get_value(borrow=True)
            if self._shared_by_value is None or var in self._shared_by_value or getattr(value, "ndim", 0) == 0:
                return f"shared:{var.name!r}:{kind}:{self.canon(value)}"
            # data read at run time from nutpie's user_data table: only the shape is compiled in
            return f"shared:{var.name!r}:{kind}:shape{tuple(int(d) for d in value.shape)}"
        return f"input:{var.name!r}:{kind}"

    def graph(self, inputs, outputs, inner: bool = False) -> str:
        """Hash of the graph from ``inputs`` (positional roots) to ``outputs``; returns its digest."""
        from pytensor.graph.traversal import toposort

        sub = _Hasher(self._shared_by_value) if inner else self
        sub._ops = self._ops
        ids = {v: f"i{i}" for i, v in enumerate(inputs)}

        def ref(v):
            if v not in ids:
                ids[v] = f"r{len(ids)}"
                sub.add(f"{ids[v]}={sub.var(v)}")
            return ids[v]

        for k, node in enumerate(toposort(outputs, blockers=inputs)):
            args = ",".join(ref(v) for v in node.inputs)
            sub.add(f"n{k}={sub.op(node.op)}({args})->" + ";".join(sub.canon(o.type) for o in node.outputs))
            for j, out in enumerate(node.outputs):
                ids[out] = f"n{k}.{j}"
        sub.add("out=" + ",".join(ref(v) for v in outputs))
        return sub.hexdigest() if inner else ""


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def one(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return ";".join(f"{p}={one(p)}" for p in _PACKAGES) + f";python={sys.version}"


def model_key(model, wrapper_version: str) -> str:
    """sha256 of everything nutpie's compiled functions of ``model`` are derived from.

    Shared variables (``pm.Data``, observed data) enter by name, type and shape only: nutpie
    reads their values at run time from its ``user_data`` table, so new data of the same
    shapes reuse the entry (an IPD registry of the same bucket, simulated data). Hashed by value are
    the scalars (PyMC's dim lengths, which set shapes) and every shared variable the free
    variables' prior graph depends on (the recorded support points and shapes derive from it).

    Raises
    ------
    Unkeyable
        When some part of the model cannot be hashed exactly.
    """
    import pytensor

    from pytensor.graph.traversal import ancestors

    free = list(model.free_RVs)
    h = _Hasher(shared_by_value=set(ancestors(free)))
    cfg = pytensor.config
    h.add(f"index={INDEX_VERSION};wrapper={wrapper_version};{_versions()}")
    h.add(f"floatX={cfg.floatX};fastmath={cfg.numba__fastmath};mode={cfg.mode};"
          f"including={cfg.optimizer_including};excluding={cfg.optimizer_excluding};"
          f"check_bounds={model.check_bounds}")
    values = [model.rvs_to_values[v] for v in free]
    observed_values = [model.rvs_to_values[v] for v in model.observed_RVs]
    outputs = [*free, *model.observed_RVs, *model.deterministics, *model.potentials, *observed_values]
    h.graph(values, outputs)  # value variables are the positional inputs i0, i1, ...
    for rv, value in zip(free, values, strict=True):
        init = model.rvs_to_initial_values.get(rv)
        h.add(f"free:{rv.name!r}:{value.name!r}:{h.canon(model.rvs_to_transforms.get(rv))}:{h.canon(init)}")
    for kind, group in (("obs", model.observed_RVs), ("det", model.deterministics), ("pot", model.potentials)):
        h.add(f"{kind}:" + ",".join(repr(v.name) for v in group))
    return h.hexdigest()


# ---------------------------------------------------------------- the index file


def index_path(key: str):
    """Where the entry of ``key`` lives: beside PyTensor's numba cache."""
    import pytensor

    return pytensor.config.base_compiledir / "rhcc_nutpie_index" / f"{key}.json"


def write_entry(key: str, entry: dict) -> None:
    """Write ``entry`` for ``key`` atomically (a reader sees the old file or the new one)."""
    from rhcc_bayes.core.atomic import write_text_atomic

    path = index_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"index_version": INDEX_VERSION, "model_key": key, **entry}))


def read_entry(key: str) -> dict | None:
    """The entry of ``key``, or ``None`` when there is none.

    Raises
    ------
    ValueError
        When the file exists but is not a valid entry for ``key`` (corrupt, truncated,
        another version or key).
    """
    path = index_path(key)
    if not path.is_file():
        return None
    entry = json.loads(path.read_text())
    if not isinstance(entry, dict) or entry.get("index_version") != INDEX_VERSION or entry.get("model_key") != key:
        raise ValueError(f"{path} is not an index entry of this version and key")
    for field in ("n_dim", "n_expanded", "shape_info", "shared", "layout", "wrappers", "initial_point"):
        if field not in entry:
            raise ValueError(f"{path} lacks {field!r}")
    return entry


# ---------------------------------------------------------------- the initial point


def initial_point_rule(model, pymc_fn, names: list[str], shapes: list) -> dict | None:
    """nutpie's jittered support-point start as data: support point + which RNG jitters which variable.

    ``pymc_fn`` is ``make_initial_point_fn(..., jitter_rvs=set(model.free_RVs),
    return_transformed=True)`` (nutpie's default). Its value for a seed is the support point
    on the transformed scale plus ``Generator(PCG64(child_j)).uniform(-1, 1, size)`` with
    ``child_j`` the j-th of ``SeedSequence(seed).spawn(n_rngs)`` (``pymc.pytensorf.reseed_rngs``).

    A variable whose transform takes other free variables as inputs (a bound that is another
    parameter: the size levels of :mod:`rhcc_bayes.survival.steps`) gets, from PyMC, a
    transformed support point that moves with those variables' jitter, which no fixed rule can
    replay. The rule gives it its transformed support point at the others' support points plus
    its own jitter instead: a start of the same law, centred as every other variable's, and
    the start the caller then uses in every process (:func:`make_initial_point_func`). A
    variable whose transform declares ``start_jitter`` (not ``None``) has its uniform(-1, 1)
    jitter multiplied by it (``"jitter"``, one per element; 1 otherwise): the bounded levels'
    own length scale. Every other variable's start must reproduce ``pymc_fn`` bit for bit on
    several seeds, and each variable must have an RNG of its own; ``None`` otherwise (the
    model then has no warm entry).
    """
    import inspect

    import numpy as np
    from pymc.initial_point import make_initial_point_fn
    from pymc.pytensorf import find_rng_nodes
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.basic import UniformRV

    fn = inspect.unwrap(pymc_fn)  # nutpie's lock and PyMC's seeding wrap a pytensor Function
    fgraph = getattr(getattr(fn, "maker", None), "fgraph", None)
    if fgraph is None:
        return None
    rngs = find_rng_nodes(fgraph.outputs)
    owners = {}
    for j, rng in enumerate(rngs):
        for node, _ in fgraph.clients[rng]:
            for out in node.outputs if isinstance(node.op, UniformRV) else ():
                owners[out] = j
    used = [{owners[v] for v in ancestors([out]) if v in owners}  # the RNG updates follow the values
            for out in fgraph.outputs[:len(names)]]
    jitter = _own_rngs(used)
    if jitter is None:
        return None
    support_fn = make_initial_point_fn(model=model, overrides=None, default_strategy="support_point",
                                       jitter_rvs=set(), return_transformed=True)
    support = support_fn(0)
    if any(not np.array_equal(support[k], v, equal_nan=True) for k, v in support_fn(1).items()):
        return None  # a random support point (prior draws) cannot be stored
    scales = _declared_jitter(model)
    rule = {"n_rngs": len(rngs), "vars": [
        {"name": name, "shape": [int(s) for s in shape], "rng": j,
         "support": _hex_floats(support[name], shape),
         **({"jitter": _hex_floats(scales[name], shape)} if name in scales else {})}
        for name, shape, j in zip(names, shapes, jitter, strict=True)]}
    replay = make_initial_point_func(rule)
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    exact = np.repeat([len(js) == 1 and name not in scales for js, name in zip(used, names)], sizes).astype(bool)
    for seed in (0, 1, 20240601, 2**32 - 1, 2**63 + 5):
        point = pymc_fn(seed)
        flat = np.concatenate([np.asarray(point[n], dtype="float64").ravel() for n in names] or [np.zeros(0)])
        if flat[exact].tobytes() != replay(seed)[exact].tobytes():
            return None
    return rule


def _hex_floats(values, shape) -> list[str]:
    """``values`` broadcast to ``shape`` as exact float64 hex strings, flattened (the rule's JSON form)."""
    import numpy as np

    return [float(x).hex() for x in np.broadcast_to(np.asarray(values, dtype="float64"), shape).ravel()]


def _declared_jitter(model) -> dict:
    """Value-variable name -> its transform's ``start_jitter``, where one is declared."""
    out = {}
    for rv in model.free_RVs:
        scale = getattr(model.rvs_to_transforms.get(rv), "start_jitter", None)
        if scale is not None:
            out[model.rvs_to_values[rv].name] = scale
    return out


def _own_rngs(used: list[set[int]]) -> list[int] | None:
    """Each variable's own jitter RNG, from the RNGs its start depends on (``None``: ambiguous).

    A variable with one RNG owns it; one whose start also moves with other variables' jitter
    (through its transform's inputs) owns the one RNG left once those variables' own are known.
    """
    own: list[int | None] = [next(iter(js)) if len(js) == 1 else None for js in used]
    while None in own:
        taken = {j for j in own if j is not None}
        resolved = False
        for i, js in enumerate(used):
            left = js - taken
            if own[i] is None and len(left) == 1:
                own[i] = left.pop()
                taken.add(own[i])
                resolved = True
        if not resolved:
            return None
    return own if len(set(own)) == len(own) else None


def make_initial_point_func(rule: dict, jitter_scale: float = 1.0) -> Callable[[Any], Any]:
    """nutpie's ``initial_point_func`` from :func:`initial_point_rule`'s data (no PyTensor).

    ``jitter_scale`` multiplies the uniform(-1, 1) jitter, on top of each variable's own
    ``"jitter"`` (1: the rule's start); other values are for experiments
    (``benchmarks/scaling.py --jitter-scale``)."""
    import numpy as np

    n_rngs = int(rule["n_rngs"])
    hexes = lambda v, key: np.array([float.fromhex(x) for x in v[key]], dtype="float64").reshape(v["shape"])  # noqa: E731
    parts = [(hexes(v, "support"), jitter_scale * (hexes(v, "jitter") if "jitter" in v else 1.0),
              tuple(v["shape"]), int(v["rng"])) for v in rule["vars"]]

    def initial_point(seed=None):
        children = np.random.SeedSequence(seed).spawn(n_rngs)
        out = [(support + scale * np.random.Generator(np.random.PCG64(children[j])).uniform(-1, 1, size=shape))
               .astype("float64").ravel() for support, scale, shape, j in parts]
        return np.concatenate(out) if out else np.zeros(0)

    return initial_point

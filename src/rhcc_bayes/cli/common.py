"""Arguments shared by every command that needs a posterior (fit, diagnose, ppc, decide, report)."""

from __future__ import annotations

import argparse
import sys

from rhcc_bayes.inference.diagnostics import gate_banner  # noqa: F401  (re-exported for the commands)


def add_fit_arguments(parser: argparse.ArgumentParser, *, spec: bool = True) -> None:
    if spec:
        parser.add_argument("--spec", default="default",
                            help="model spec: a bundled name (default, weibull, ...) or a TOML path [default: default]")
    parser.add_argument("--evidence", nargs="+", metavar="FILE",
                        help="evidence CSV file(s), merged with the bundled evidence (for an NMA spec: used alone)")
    parser.add_argument("--seed", type=int, help="random seed [default: the spec's seed]")
    parser.add_argument("--cache-dir", help="posterior cache folder [default: $RHCC_BAYES_CACHE or .rhcc_cache]")
    parser.add_argument("--no-cache", action="store_true", help="always refit; do not read or write the cache")
    parser.add_argument("--allow-unconverged", action="store_true",
                        help="continue with a fit that fails the diagnostics gate (every output is flagged)")


def load_inputs(args, spec_name: str | None = None):
    """(evidence, spec) from the parsed arguments (read and validated once)."""
    from rhcc_bayes.evidence.table import OPEN_WORLD, load_evidence
    from rhcc_bayes.specs import is_nma, load_spec

    spec = load_spec(spec_name or args.spec)
    if is_nma(spec):
        if not args.evidence:
            from rhcc_bayes.core.errors import UserError

            raise UserError(f"spec {spec.name!r} is a network meta-analysis: give its data with --evidence FILE")
        evidence = load_evidence(args.evidence, taxonomy=OPEN_WORLD)
    else:
        evidence = load_evidence(args.evidence) if args.evidence else load_evidence()
    return evidence, spec


def synthesis_from_args(args, spec_name: str | None = None, inputs=None):
    """The :class:`~rhcc_bayes.synthesis.Synthesis` the arguments describe."""
    from rhcc_bayes.synthesis import Synthesis

    evidence, spec = inputs or load_inputs(args, spec_name)
    return Synthesis(spec, evidence)


def fit_from_args(args, spec_name: str | None = None, inputs=None):
    """Fit (or load from cache) the synthesis the arguments describe: ``(evidence, SynthesisPosterior)``.

    ``inputs`` is an ``(evidence, spec)`` pair already read by :func:`load_inputs`.
    """
    from rhcc_bayes.core.paths import default_cache_dir

    synthesis = synthesis_from_args(args, spec_name, inputs)
    spec, evidence = synthesis.spec, synthesis.evidence
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    if cache_dir is not None and synthesis.cache_path(cache_dir, args.seed).exists():
        print(f"loading cached posterior of spec {spec.name!r} from {cache_dir} ...", file=sys.stderr)
    else:
        print(f"fitting spec {spec.name!r} on {len(evidence)} evidence rows (compiling and sampling; "
              f"cache: {cache_dir or 'off'}) ...", file=sys.stderr)
    posterior = synthesis.fit(cache_dir=cache_dir, seed=args.seed, allow_unconverged=args.allow_unconverged,
                              recheck_gate=getattr(args, "recheck_gate", False))
    origin = "loaded from cache" if posterior.cache_hit else "sampled"
    print(f"posterior {origin}: {posterior.cache_path or '(not cached)'}", file=sys.stderr)
    return evidence, posterior

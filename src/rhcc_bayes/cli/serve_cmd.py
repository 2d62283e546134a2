"""``rhcc-bayes serve``: a local web page for one patient on the cached posterior.

    rhcc-bayes serve [--port 8050] [--host 127.0.0.1] [--spec default] [--evidence FILE ...]
                     [--cache-dir DIR] [--profile start.toml] [--horizon 60] [--population average]

Fits (or loads the cached posterior) the way every command does, then serves a form for the
patient profile with the bottom line, survival curves and decision table updating as fields
change. Stop with Ctrl+C.
"""

from __future__ import annotations

import sys

from rhcc_bayes.cli.common import add_fit_arguments, announce_gate, check_horizon_option, fit_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="interactive page: a patient form with the decision updating as you type",
                       description="Start a local web app on the fitted (cached) posterior: a form for the patient "
                                   "profile, and the bottom line, survival curves of the leading options and the "
                                   "decision table updating as fields change. Stop with Ctrl+C.")
    add_fit_arguments(p)
    p.add_argument("--port", type=int, default=8050, help="TCP port to listen on [default: 8050]")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on [default: 127.0.0.1, this machine only; 0.0.0.0 exposes the "
                        "page to the network]")
    p.add_argument("--profile", metavar="FILE",
                   help="profile TOML the form starts from [default: the bundled small_solitary_late example]")
    p.add_argument("--horizon", type=float, default=60.0, help="initial RMST horizon in months [default: 60]")
    p.add_argument("--population", choices=("average", "new"), default="average",
                   help="initial study population: average, or a new one (between-study effect integrated) "
                        "[default: average]")
    p.set_defaults(func=run)


def _check_address(host: str, port: int) -> None:
    """Refuse a port out of range or already taken before the (slow) fit."""
    import socket

    from rhcc_bayes.core.errors import UserError

    if not 1 <= port <= 65535:
        raise UserError(f"--port must be in 1-65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise UserError(f"--host {host}: cannot resolve ({err.strerror or err})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as err:
            raise UserError(f"--host {host} --port {port}: cannot listen there ({err.strerror or err}); "
                            "choose another --port") from None


def run(args) -> int:
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.serve.form import default_profile

    _check_address(args.host, args.port)
    check_horizon_option(args.horizon)
    profile = default_profile(args.profile)  # validated before the fit
    from rhcc_bayes.specs import is_nma, load_spec

    spec = load_spec(args.spec)
    if is_nma(spec):
        raise UserError(f"--spec {args.spec}: serve decides for a patient and needs a survival spec; "
                        f"{spec.name!r} is a network meta-analysis spec")
    _, posterior = fit_from_args(args)
    announce_gate(posterior.draws)

    import uvicorn

    from rhcc_bayes.serve import create_app, decision_view

    print("preparing the page (first decision) ...", file=sys.stderr, flush=True)
    decision_view(posterior, profile, horizon=args.horizon, population=args.population)  # warm caches
    app = create_app(posterior, profile, horizon=args.horizon, population=args.population)
    url = f"http://{args.host}:{args.port}/"

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:  # listening: only now is the address worth printing
                print(f"serving on {url} (Ctrl+C to stop)", file=sys.stderr, flush=True)

    try:
        Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its clean shutdown: the normal way to stop
        pass
    print("stopped", file=sys.stderr)
    return 0

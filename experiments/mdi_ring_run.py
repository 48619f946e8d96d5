"""MS-MDI for real from the command line: one gloo ring run per policy, one JSON line each.

``python -m splitgym.experiments.mdi_ring_run --workers 3 --policies ms-mdi ar-mdi local learned
--learned RUN``. It lives here, not beside the ring executor, because the learned policy is an
agent: the executor takes its loader as an argument (imports run experiments -> agents -> envs ->
executors -> costmodels).
"""

from __future__ import annotations

import argparse
import functools
import json

from splitgym.agents.learned_admission import LearnedAdmission
from splitgym.costmodels.stages.queue_policies import SCHEDULERS
from splitgym.executors.stages.mdi_ring import MODES, local_system, run_mdi_ring, sim_policy

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="MS-MDI for real: a ring of gloo processes on this CPU")
    ap.add_argument("--model", default="vgg11")
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sources", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0])
    ap.add_argument("--images", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--policies", nargs="+", default=["ms-mdi", "ar-mdi", "local"], choices=[*SCHEDULERS, "learned"])
    ap.add_argument("--learned", default=None, help="training run folder of the learned policy")
    ap.add_argument("--mode", default="live", choices=MODES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    graph, system = local_system(args.model, args.input, args.workers, args.sources, args.rates, args.images)
    loader = functools.partial(LearnedAdmission.load, rates=tuple(system.rates))  # an MSMDI-v1 policy observes them
    for p in args.policies:
        r = run_mdi_ring(
            graph,
            system,
            p,
            seed=args.seed,
            mode=args.mode,
            learned=args.learned,
            loader=loader,
            timeout_s=args.timeout,
        )
        bad = r.check(sim_policy(p, args.learned, system, loader))
        print(
            json.dumps(
                {
                    "model": args.model,
                    "input": args.input,
                    "workers": args.workers,
                    "images": sum(args.images),
                    **r.to_json(),
                    "decisions_not_the_policys": len(bad),
                }
            )
        )


if __name__ == "__main__":
    main()

"""``python -m nommer.sim``: replay a trace through each scaling policy and
print instance-seconds, cost and waits per policy."""

import argparse
import dataclasses
import json
import sys

from nommer.core import config as config_mod
from nommer.core.errors import ConfigError
from nommer.core.feeder.scaling import POLICIES, Rules, idle_limit
from nommer.sim import traces
from nommer.sim.engine import Params, simulate


def _positive(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parser():
    p = argparse.ArgumentParser(prog="python -m nommer.sim", description=__doc__)
    p.add_argument("--trace", default="daily",
                   help=f"a built-in trace ({', '.join(traces.BUILT_IN)}) or a CSV file "
                        "with the columns submit, duration, preset")
    p.add_argument("--policy", action="append", choices=POLICIES,
                   help="a policy to run (again for several; default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hours", type=_positive, help="length of a built-in trace")
    p.add_argument("--rate", type=_positive, help="mean jobs an hour of a built-in trace")
    p.add_argument("--config", help="a nommer TOML file whose scaling settings to use "
                                     "(defaults otherwise; max_encoders 0 means 20 here)")
    p.add_argument("--max-encoders", type=int, help="overrides max_encoders")
    p.add_argument("--target-wait", type=_positive, help="overrides target_wait")
    p.add_argument("--keep-warm", type=_positive, help="overrides keep_warm")
    p.add_argument("--max-inactivity", type=_positive, help="overrides max_inactivity")
    p.add_argument("--boot-delay", type=_positive, default=Params.boot_delay)
    p.add_argument("--billing-minimum", type=_positive, default=Params.billing_minimum)
    p.add_argument("--price", type=_positive, default=Params.price, help="on-demand $ per instance-hour")
    p.add_argument("--spot", action="store_true", help="every instance on spot")
    p.add_argument("--spot-price", type=_positive, default=Params.spot_price)
    p.add_argument("--interruptions", type=_positive, default=0.0,
                   help="spot interruptions per instance-hour")
    p.add_argument("--scale-interval", type=_positive, default=Params.scale_interval)
    p.add_argument("--probed-at-submit", action="store_true",
                   help="predict queued jobs from their duration (otherwise default_job_seconds "
                        "until an encoder probes them, as in the feeder)")
    p.add_argument("--json", action="store_true")
    return p


def rules_for(config, policy, maximum=None):
    rules = Rules.from_config(config.replace(scaling_policy=policy))
    return dataclasses.replace(rules, maximum=maximum or config.max_encoders or 20)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        overrides = {"target_wait": args.target_wait, "max_encoders": args.max_encoders,
                     "keep_warm": args.keep_warm, "max_inactivity": args.max_inactivity}
        config = config_mod.load(args.config, overrides=overrides, environ={})
    except ConfigError as e:
        print(f"nommer.sim: {e}", file=sys.stderr)
        return 2
    if args.trace in traces.BUILT_IN:
        kwargs = {k: v for k, v in (("hours", args.hours), ("rate", args.rate)) if v}
        trace = traces.BUILT_IN[args.trace](seed=args.seed, **kwargs)
    else:
        try:
            trace = traces.load_csv(args.trace)
        except (OSError, traces.TraceError) as e:
            print(f"nommer.sim: --trace: {e}", file=sys.stderr)
            return 2
    params = Params(boot_delay=args.boot_delay, billing_minimum=args.billing_minimum, price=args.price,
                    spot=args.spot, spot_price=args.spot_price, interruptions_per_hour=args.interruptions,
                    scale_interval=args.scale_interval, default_job_seconds=config.default_job_seconds,
                    probed_at_submit=args.probed_at_submit, seed=args.seed)
    results = [simulate(trace, rules_for(config, policy, args.max_encoders),
                        dataclasses.replace(params, max_inactivity=idle_limit(
                            config.replace(scaling_policy=policy)))).summary()
               for policy in (args.policy or POLICIES)]
    if args.json:
        print(json.dumps({"trace": args.trace, "seed": args.seed, "results": results}, indent=2))
        return 0
    print(f"trace {args.trace}, {len(trace)} jobs, seed {args.seed}")
    print(f"{'policy':14s} {'inst-s':>9s} {'cost $':>8s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s} "
          f"{'launch':>6s} {'intr':>5s}")
    for r in results:
        print(f"{r['policy']:14s} {r['instance_seconds']:9d} {r['cost']:8.3f} {r['wait_p50']:7.0f} "
              f"{r['wait_p95']:7.0f} {r['wait_max']:7.0f} {r['launches']:6d} {r['interruptions']:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

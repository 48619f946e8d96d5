"""The ``splitgym`` command: one verb per stage of the pipeline.

    splitgym graph vgg16                       # the traced units and head
    splitgym profile --model vgg16             # measure this machine (or --board nano: derive)
    splitgym profile --model vgg16 --forms     # the profile in each form, each form's MAPE
    splitgym plan equal --model vgg16 --devices DB --bandwidth 300 -o plan.json
    splitgym simulate plan.json                # latency breakdown
    splitgym execute plan.json --backend distributed --links emulated --images 5   # run it for real
    splitgym train devices=DA network=bw50 agent=ddpg  # Hydra app: learn a split policy
    splitgym train devices=my/devices.yaml             # ... on a devices YAML of yours
    splitgym evaluate runs/train                # the latest run: plan, actor, references
    splitgym list devices|networks|boards|planners|models|scenarios|splits
    splitgym benchmark aofl random runs/gen --split distredge-v1/test   # IQM and CIs over a split
    splitgym report runs/multirun/<date>       # every job of a sweep: overrides and results
    splitgym --version

Readable tables by default, ``--json`` for scripts. A bad argument or file is one line on stderr
and exit status 2; nothing else is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from splitgym.costmodels.errors import SplitgymError, one_line_failure
from splitgym.experiments.cli_args import MAX_THREADS, bounded_float, bounded_int, nonempty_path, torch_device

#: the largest ``--input`` side: a 4096 x 4096 image is 48 MB at the first layer; beyond is a typo
MAX_INPUT = 4096

__all__ = ["main", "train_overrides"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _table(rows: list[dict[str, Any]], floats: int = 3) -> str:
    if not rows:
        return "(empty)"
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.{floats}f}"
        if isinstance(v, (list, tuple)):
            return "x".join(map(str, v))
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    body = ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _numeric(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=1) if args.json else text)


def _graph(model: str, size: int | tuple[int, int] | None):
    """The traced model on the meta device: shapes only, ~20x faster to build than random weights;
    whatever runs it (the profiler) gets the same seeded weights as before, on first use."""
    from splitgym.costmodels.graph import ModelGraph
    from splitgym.costmodels.models import resolve_model_spec

    return ModelGraph.from_torchvision(resolve_model_spec(model), size, weights=False)


# -- verbs ----------------------------------------------------------------------------------------
def cmd_graph(args: argparse.Namespace) -> None:
    g = _graph(args.model, args.input)
    s = g.summary()
    rows = [
        {
            "#": u["index"],
            "unit": u["name"],
            "kind": u["kind"] + (f"[{','.join(u['tags'])}]" if u["tags"] else ""),
            "in": u["in_shape"],
            "out": u["out_shape"],
            "F": u["kernel"],
            "S": u["stride"],
            "params": u["params"],
            "GFLOPs": u["flops"] / 1e9,
            "out_KB": u["out_bytes"] / 1024,
        }
        for u in s["units"]
    ]
    head = s["head"]
    text = (
        _table(rows)
        + (
            f"\nhead: {' -> '.join(head['layers'])}  params {head['params']:,}  GFLOPs {head['flops'] / 1e9:.3f}"
            if head
            else "\nhead: none"
        )
        + f"\ntotal: {s['params']:,} params, {s['flops'] / 1e9:.2f} GFLOPs, input {s['input']}"
    )
    _emit(args, s, text)


def _profile_source(args: argparse.Namespace, g: Any) -> Any:
    """The profile ``splitgym profile`` shows: a brought file, a board's (stored or derived), or
    this machine's (cached with ``--forms``; measured now otherwise)."""
    from splitgym.costmodels.profile_spec import ProfileSpec
    from splitgym.costmodels.profiler import profile_model
    from splitgym.costmodels.profiles import load_or_measure, load_profile_file, profile_for

    if args.profile is not None:  # absolute, links not followed: a symlink loop is refused when read
        return load_profile_file(ProfileSpec(os.path.abspath(args.profile), where="--profile"), g)
    if args.board is not None:  # a stored (measured) profile of the board wins; else derived
        return profile_for(ProfileSpec(args.board, form="table" if args.forms else None), g)
    if args.forms:
        return load_or_measure(g, args.device, progress=not args.quiet)
    return profile_model(
        g,
        device=args.device,
        granularity=args.granularity,
        widths=args.widths,
        min_run_time=args.min_run_time,
        name=f"local-{args.device.split(':')[0]}",
        progress=not args.quiet,
        threads=args.threads,
    )


def cmd_profile(args: argparse.Namespace) -> None:
    """Measure here (written to the store), show a board's or a file's profile, or (``--forms``)
    one profile in every form with each form's error against its table. A derived profile is
    written only where ``-o`` says: the store keeps measured ones, so none shadows a later derivation."""
    from splitgym.costmodels.profiles import cached_profile_path

    if args.board is not None and args.profile is not None:
        raise SplitgymError("profile: give --board or --profile, not both")
    if args.forms and args.output:
        raise SplitgymError("-o: --forms only shows the forms; write a profile without --forms")
    g = _graph(args.model, args.input)
    t0 = time.perf_counter()
    prof = _profile_source(args, g)
    cost = time.perf_counter() - t0
    if args.forms:
        _show_forms(args, prof)
        return
    measured_here = args.board is None and args.profile is None
    out = Path(args.output) if args.output else (cached_profile_path(prof.board, g) if measured_here else None)
    if out is not None:
        prof.save(out)
    rows = [
        {
            "#": i,
            "unit": u.name,
            "points": len(u.heights),
            "full_ms": u.at([u.heights[-1]])[0] * 1e3,
            "1row_ms": u.at([1])[0] * 1e3,
        }
        for i, u in enumerate(prof.units)
    ]
    summary = {
        "file": None if out is None else str(out),
        "kind": prof.kind,
        "board": prof.board,
        "total_s": prof.total_seconds(),
        "head_s": prof.head_seconds,
        "profiling_s": cost,
        "linear_fit_mape_pct": prof.mape_against(prof.fitted("linear")),
        "meta": prof.meta,
    }
    wrote = f"wrote {out}" if out is not None else "not written (give -o FILE to save it)"
    text = (
        _table(rows) + f"\nhead {prof.head_seconds * 1e3:.2f} ms; whole model {prof.total_seconds() * 1e3:.1f} ms"
        f" ({prof.kind}); linear fit MAPE {summary['linear_fit_mape_pct']:.1f}%\n"
        f"took {cost:.1f} s; {wrote}"
    )
    _emit(args, summary, text)


def _show_forms(args: argparse.Namespace, prof: Any) -> None:
    """One row per form: whole-model latency and the form's MAPE (mean and worst unit) on the
    table's measured points."""
    import numpy as np

    from splitgym.costmodels.profile_forms import FORMS

    k, knots = args.k, args.knots
    if (k is not None and k < 1) or (knots is not None and knots < 2):
        raise SplitgymError(
            f"--k: expected >= 1, got {k}" if k is not None and k < 1 else f"--knots: expected >= 2, got {knots}"
        )
    rows = []
    for form in FORMS:
        opts = {"k": k} if form == "knn" else {"knots": knots} if form == "piecewise" else {}
        fit = prof.in_form(form, **opts, where=f"profile {prof.name}")
        per_unit = [
            float(np.mean(np.abs(o.at(np.asarray(m.heights)) - s) / s) * 100)
            for m, o in zip(prof.units, fit.units)
            for s in [np.asarray(m.seconds, dtype=float)[:, -1]]
        ]
        rows.append(
            {
                "form": form,
                "options": ",".join(f"{o}={v}" for o, v in fit.meta.get("form_options", {}).items()) or "-",
                "total_ms": fit.total_seconds() * 1e3,
                "mape_pct": prof.mape_against(fit),
                "worst_unit_mape_pct": max(per_unit),
            }
        )
    head = f"profile {prof.name} ({prof.kind}, board {prof.board}, {prof.model} {list(prof.input_shape)})"
    _emit(
        args,
        {"profile": prof.name, "kind": prof.kind, "board": prof.board, "forms": rows},
        head + "; error of each form on the table's measured points\n" + _table(rows, 2),
    )


def _cluster(args: argparse.Namespace):
    from splitgym.costmodels.cluster import Cluster

    if args.network is not None and args.bandwidth is not None:
        raise SplitgymError("network: give --bandwidth or --network, not both")
    if args.network is not None:
        return Cluster.from_config(args.devices, args.network)
    cluster = Cluster.from_config(args.devices, 300.0 if args.bandwidth is None else args.bandwidth)
    if args.bandwidth is None and all(d.board.startswith("local-") for d in cluster.devices):
        return Cluster.from_config(args.devices, "local")  # devices on this machine: its measured links
    return cluster


def _set_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to planner options; values that read as int or float become numbers."""
    opts: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise SplitgymError(f"--set: expected KEY=VALUE, got {pair!r}")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                pass
        opts[key.strip()] = value
    return opts


def _check_forms(cluster: Any, graph: Any) -> None:
    """Refuse now a form option that fits the YAML but not the model (a kNN ``k`` above a unit's
    measured heights), rather than in a later ``simulate``, even for planners that price nothing."""
    from splitgym.costmodels.profiles import profile_for

    cache: dict[str, Any] = {}
    for d in cluster.devices:
        if d.spec.k is not None:
            profile_for(d.spec, graph, cache)


def cmd_plan(args: argparse.Namespace) -> None:
    from splitgym.agents.planners import PLANNERS, run_planner

    if args.list or args.method is None:
        rows = [
            {"method": k, "about": (v.__module__ and sys.modules[v.__module__].__doc__ or "").strip().splitlines()[0]}
            for k, v in sorted(PLANNERS.items())
        ]
        _emit(args, [r["method"] for r in rows], _table(rows))
        return
    opts: dict[str, Any] = {"partition": args.partition} if args.partition else {}
    opts.update(_set_options(args.set or []))
    g = _graph(args.model, args.input)
    cluster = _cluster(args)
    _check_forms(cluster, g)
    plan = run_planner(args.method, g, cluster, **opts)
    if args.output:
        plan.save(args.output)
    vols = [
        {"volume": i, "units": f"{v.first}..{v.last}", "rows": ",".join(map(str, v.rows))}
        for i, v in enumerate(plan.volumes)
    ]
    stages = [
        {"stage": i, "device": st.device, "units": f"{st.first}..{st.last}"} for i, st in enumerate(plan.stages or [])
    ]
    if not vols and plan.neuron_splits:  # a hybrid plan (HyPS): partitions in sequence
        vols = [{"stage": f"units {s.first}..{s.last}", "device": s.device} for s in plan.stages or []]
        vols += [
            {"stage": f"{n.layer} neurons {p.start}..{p.end}", "device": p.device}
            for n in plan.neuron_splits or []
            for p in n.parts
        ]
        vols += [{"stage": "head", "device": plan.head_device}] if plan.head_device else []
        stages = []
    text = (
        _table(vols) + (f"\n\n{_table(stages)}" if stages else "") + (f"\nwrote {args.output}" if args.output else "")
    )
    if plan.tiles:  # NPTP tile plans
        rows = [
            {"device": t.device, "rows": f"{t.rows[0]}..{t.rows[1]}", "cols": f"{t.cols[0]}..{t.cols[1]}"}
            for t in plan.tiles
        ]
        text = _table(rows) + (f"\nwrote {args.output}" if args.output else "")
    _emit(args, json.loads(plan.model_dump_json(exclude_none=True)), text)


def cmd_simulate(args: argparse.Namespace) -> None:
    """Price a plan with its kind's scorer (``SCORERS[plan.kind]``): one lookup, no guessing."""
    from splitgym.costmodels.plan import load_plan
    from splitgym.costmodels.scoring import score_plan

    plan = load_plan(args.plan)
    c, h, w = plan.model.input
    if c != 3:
        raise SplitgymError(f"model.input: torchvision models take 3 channels, got {c}")
    if args.at and plan.kind != "nodes":  # a plan file's bandwidths are fixed: no trace travels in it
        raise SplitgymError(
            f"--at: a {plan.kind} plan file holds fixed bandwidths (no trace), so --at {args.at:g} would change "
            "nothing; only nodes (HiDP) plans use it (node availability)"
        )
    g = _graph(plan.model.name, (h, w))
    sc = score_plan(plan, g, at=args.at)
    text = (
        f"plan {args.plan}: {plan.method} on {plan.model.name} {list(plan.model.input)}, "
        f"{len(plan.devices)} devices, kind {plan.kind}\n\n" + _table(sc.rows(), 2)
    )
    for title, rows in sc.tables:
        text += f"\n\n{title}\n" + _table(rows, 2)
    _emit(args, sc.to_json(), text + f"\n\n{sc.summary}")


#: ``splitgym execute`` options and the runner keyword each becomes (only those given are passed,
#: so a runner refuses what it does not take instead of ignoring it).
_RUN_OPTIONS = {
    "images": "images",
    "links": "links",
    "warmup": "warmup",
    "threads": "threads",
    "port": "port",
    "timeout": "timeout_s",
    "folder": "folder",
}


def cmd_execute(args: argparse.Namespace) -> None:
    """Run a plan on ``RUNNERS[(plan.kind, backend)]`` and show what it measured."""
    from splitgym.costmodels.plan import load_plan
    from splitgym.executors.run import execute

    plan = load_plan(args.plan)
    c = plan.model.input[0]
    if c != 3:
        raise SplitgymError(f"model.input: torchvision models take 3 channels, got {c}")
    backend = args.backend if args.backend is not None else ("hub" if plan.kind == "neurons" else "local")
    if args.folder is not None and Path(args.folder).exists() and not Path(args.folder).is_dir():
        raise SplitgymError(f"--folder: {args.folder!r} exists and is not a folder")
    opts = {key: getattr(args, name) for name, key in _RUN_OPTIONS.items() if getattr(args, name) is not None}
    run = execute(plan, backend, **opts)
    data = {"plan": str(args.plan), "model": plan.model.name, "input": list(plan.model.input), **run.to_json()}
    head = run.detail.get("head_device")
    rows = [
        {
            "device": r["device"] + (" (head)" if r["device"] == head else ""),
            "compute_ms": r["compute_s"] * 1e3,
            "transfer_ms": r["transfer_s"] * 1e3,
        }
        for r in run.per_device()
    ]
    text = (
        f"plan {args.plan}: {plan.method} ({plan.kind}) on {plan.model.name} {list(plan.model.input)}, "
        f"{len(plan.devices)} devices, backend {backend}, {len(run.latency_s)} images\n\n"
        + _table(rows, 2)
        + f"\n\nlatency per image: mean {_mean_ms(run.latency_s)} ms, median {run.latency_median_s * 1e3:.2f} ms"
        f"  ->  {run.ips:.2f} images/s; {run.bytes_moved / 1024:.1f} KB moved"
        f"\nmax abs error vs the unsplit model: {run.max_abs_error:.3g} (output max |y| {run.ref_max_abs:.3g})"
    )
    text += _run_notes(run.detail)
    _emit(args, data, text)


def _mean_ms(xs: list[float]) -> str:
    return f"{sum(xs) / len(xs) * 1e3:.2f}" if xs else "nan"


def _run_notes(detail: dict[str, Any]) -> str:
    """The lines only some runs have: processor shares, a resumed folder, tile halos."""
    text = ""
    procs = (detail.get("meta") or {}).get("processors")
    if procs:  # a HiDP plan's processor shares, on pinned workers per node
        text += "\nprocessor compute per image: " + "; ".join(
            f"{n}: " + ", ".join(f"{p} {t * 1e3:.2f} ms" for p, t in per.items()) for n, per in procs.items()
        )
    meta = detail.get("meta") or {}
    if meta.get("skipped_images") or meta.get("resumed"):
        text += (
            f"\nrun folder: {meta['skipped_images']} image(s) already done, resumed "
            f"{meta.get('resumed') or 'none'} (image: last complete stage)"
        )
    if "resumed" in detail:  # the HyPS hub
        text += (
            f"\nhub run in {detail['folder']} ({'resumed' if detail['resumed'] else 'new'}): computed "
            f"{len(detail['computed'])}, reused {len(detail['reused'])} feature maps in {detail['seconds']:.1f} s"
        )
        if detail.get("partitions"):  # computation vs communication per partition
            from splitgym.executors.neurons.hub_timing import COLUMNS as HUB_COLUMNS

            text += "\n\nper partition (seconds; links " + str(detail.get("links")) + ")\n"
            text += _table(
                [{k: r[k] for k in ("partition", "layers", *HUB_COLUMNS, "wall_s")} for r in detail["partitions"]], 4
            )
    if "modelled_bytes" in detail:
        text += f"\nhalo modelled {detail['modelled_bytes'] / 1024:.1f} KB"
    return text


def train_overrides(overrides: Sequence[str]) -> list[str]:
    """``devices=my/devices.yaml`` (a file, not a group name) becomes Hydra's
    ``devices=file devices.path=my/devices.yaml`` (conf/devices/file.yaml)."""
    out = []
    for o in overrides:
        value = o.removeprefix("devices=")
        if o.startswith("devices=") and value.endswith((".yaml", ".yml")) and "," not in value:
            out += ["devices=file", f"devices.path={value}"]
        else:
            out.append(o)
    return out


def cmd_train(args: argparse.Namespace) -> None:
    from splitgym.agents import train
    from splitgym.experiments.override_check import check_overrides

    overrides = train_overrides(args.overrides)
    check_overrides(overrides)
    sys.argv = ["splitgym train", *_absolute_config_path(overrides)]
    train.main()


def _absolute_config_path(argv: list[str]) -> list[str]:
    """``--config-path RUN`` (``-cp``) relative to the working folder, as a person means it; Hydra
    would read it relative to the app's module. Why: ``splitgym train --config-path RUN
    --config-name config`` re-runs a run from its recorded ``config.yaml``. That file holds no
    ``hydra`` section, so the re-run's folders follow conf/train.yaml's pattern unless given."""
    out = list(argv)
    given = False
    for i, arg in enumerate(out):
        flag, eq, value = arg.partition("=")
        if flag not in ("--config-path", "-cp"):
            continue
        given = True
        if eq and not Path(value).is_absolute():
            out[i] = f"{flag}={Path(value).resolve()}"
        elif not eq and i + 1 < len(out) and not Path(out[i + 1]).is_absolute() and Path(out[i + 1]).is_dir():
            out[i + 1] = str(Path(out[i + 1]).resolve())
    for key, value in _RUN_DIRS.items():
        if given and not any(a.startswith(f"{key}=") for a in out):
            out.append(f"{key}={value}")
    return out


#: conf/train.yaml's run folders, for a re-run from a recorded config (which has no ``hydra`` section)
_RUN_DIRS = {
    "hydra.run.dir": "runs/train/${now:%Y-%m-%d_%H-%M-%S}",
    "hydra.sweep.dir": "runs/multirun/${now:%Y-%m-%d_%H-%M-%S}",
}


def cmd_evaluate(args: argparse.Namespace) -> None:
    from splitgym.agents.evaluate import evaluate

    res = evaluate(args.run, split=args.split, seeds=args.seeds)  # the run's task: a title and rows
    _emit(args, res, f"{res['title']}\n" + _table(res["rows"], 2))


def cmd_report(args: argparse.Namespace) -> None:
    """Every job of a multirun: overrides and final results; one table, a CSV and a PNG."""
    from splitgym.experiments.results_csv import write_csv
    from splitgym.experiments.sweep_report import collect_jobs, plot_report, report_rows

    root = Path(args.sweep_dir)
    jobs = collect_jobs(root)
    rows, shared, varying = report_rows(jobs)
    full, _, _ = report_rows(jobs, full=True)
    csv_path = write_csv(Path(args.csv) if args.csv else root / "report.csv", full)
    title = f"{root} ({len(jobs)} jobs)" + (
        f"; all: {' '.join(f'{k}={v}' for k, v in shared.items())}" if shared else ""
    )
    png = plot_report(rows, varying, Path(args.png) if args.png else root / "report.png", title)
    same = " ".join(f"{k}={v}" for k, v in shared.items())
    text = (f"every job: {same}\n" if same else "") + _table(rows, 4) + f"\nwrote {csv_path} and {png}"
    _emit(args, {"jobs": jobs, "shared": shared, "csv": str(csv_path), "png": str(png)}, text)


def cmd_list(args: argparse.Namespace) -> None:
    from splitgym.agents.planners import PLANNERS
    from splitgym.costmodels.boards import BOARDS
    from splitgym.costmodels.cluster import list_conf
    from splitgym.costmodels.models import available_models

    what = args.what
    if what == "boards":
        rows = [
            {
                "board": b.name,
                "processor": b.processor,
                "peak_GFLOPS": b.peak_gflops,
                "memory_GB": b.memory_gb,
                "source": b.source[:70],
            }
            for b in BOARDS.values()
        ]
        _emit(args, [vars(b) for b in BOARDS.values()], _table(rows, 1))
        return
    if what == "scenarios":  # the one registry: every env's and kind's scenarios, with what they are for
        from splitgym.envs.scenarios import SCENARIOS, list_scenarios

        scenarios = [SCENARIOS[n].summary() for n in list_scenarios()]
        rows = [
            {
                "scenario": r["name"],
                "envs": ",".join(e.removeprefix("splitgym/") for e in r["envs"]),
                "kinds": ",".join(r["kinds"]),
                "model": r["model"],
                "input": str(r["input"] or "default"),
                "devices": r["devices"],
                "network": r["network"],
            }
            for r in scenarios
        ]
        _emit(args, scenarios, _table(rows))
        return
    if what == "splits":  # named, frozen instance sets (envs/splits.py)
        from splitgym.envs.splits import get_split, list_splits

        splits = [get_split(n).summary() for n in list_splits()]
        _emit(args, splits, _table(splits))
        return
    items = {
        "devices": lambda: list_conf("devices"),
        "networks": lambda: list_conf("network"),
        "planners": lambda: sorted(PLANNERS),
        "models": available_models,
    }[what]()
    _emit(args, items, "\n".join(items))


def cmd_benchmark(args: argparse.Namespace) -> None:
    from splitgym.experiments.benchmark_cli import benchmark

    data, text = benchmark(args)
    _emit(args, data, text)


def _verb(sub: Any, name: str, fn: Any, help_: str) -> argparse.ArgumentParser:
    sp = sub.add_parser(name, help=help_, description=help_)
    sp.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sp.set_defaults(func=fn)
    return sp


def _model_args(sp: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        sp.add_argument("model", help="torchvision model name (vgg16, resnet50, ...) or your own: FILE.py:factory")
    else:
        sp.add_argument(
            "--model", default="vgg16", help="torchvision model name (default vgg16) or your own: FILE.py:factory"
        )
    sp.add_argument(
        "--input",
        type=bounded_int(1, MAX_INPUT),
        default=None,
        help="input height=width (default 224; 299 for inception_v3)",
    )


def _profile_args(sp: argparse.ArgumentParser) -> None:
    _model_args(sp)
    sp.add_argument("--device", type=torch_device, default="cpu", help="torch device to measure (cpu, cuda, cuda:1)")
    sp.add_argument(
        "--board",
        default=None,
        help="show this board's profile instead: a measured one in the store, else derived (nano, tx2, ...); "
        "written only with -o",
    )
    sp.add_argument("--profile", default=None, help="show a profile file (one brought from another machine)")
    sp.add_argument(
        "--forms",
        action="store_true",
        help="show the profile in each form (table, linear, piecewise, knn) with its MAPE against the table",
    )
    sp.add_argument("--k", type=bounded_int(1, 10_000), default=None, help="kNN neighbours for --forms (default 3)")
    sp.add_argument(
        "--knots",
        type=bounded_int(2, 10_000),
        default=None,
        help="piecewise knots, ends included, for --forms (default 3)",
    )
    sp.add_argument(
        "--granularity",
        type=bounded_int(1, MAX_INPUT),
        default=None,
        help="rows between measured heights (default H//12; 1 = the paper's)",
    )
    sp.add_argument(
        "--widths",
        type=bounded_float(0, 1, low_open=True),
        nargs="*",
        default=None,
        help="width fractions to measure as tiles, e.g. 0.25 0.5 1",
    )
    sp.add_argument(
        "--min-run-time", type=bounded_float(0, 600, low_open=True), default=0.02, help="seconds of timing per point"
    )
    sp.add_argument(
        "--threads",
        type=bounded_int(1, MAX_THREADS),
        default=1,
        help="torch CPU threads while measuring (default 1, as the executors run: --threads 1)",
    )
    sp.add_argument(
        "-o", "--output", default=None, help="profile file to write (default: the store, for a profile measured here)"
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bar")


def _profile_links_args(sp: argparse.ArgumentParser) -> None:
    from splitgym.experiments.profile_links import add_profile_links_args

    add_profile_links_args(sp)


def cmd_profile_links(args: argparse.Namespace) -> None:
    """Measure, fit and write a link table (a network YAML names it with ``links: file.json``)."""
    from splitgym.experiments.profile_links import profile

    doc = profile(args)
    fit = doc["fit"]
    rates = ", ".join(
        f"{e['cap_mbps'] or 'unshaped'}: " + (f"{e['effective_mbps']:.4g} Mbps" if e["effective_mbps"] else "too fast")
        for e in fit["effective_mbps"]
    )
    text = f"per-message overhead {fit['overhead_ms']:.3f} ms; effective {rates}; fit MAPE {fit['mape_pct']:.1f}%"
    if args.output:
        text += f"\nwrote {args.output}"
    _emit(args, doc, text)


def _plan_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("method", nargs="?", help="planner name")
    sp.add_argument("--list", action="store_true", help="list the planners")
    _model_args(sp)
    sp.add_argument(
        "--devices", default="DB", help="device group (conf/devices: DA, DB, DC, LA.., local4) or a YAML path"
    )
    sp.add_argument(
        "--bandwidth",
        type=bounded_float(0, 1e6, low_open=True),
        default=None,
        help="cap every device at this many Mbps",
    )
    sp.add_argument(
        "--network",
        default=None,
        help="network config (conf/network: bw300, NA..ND, LA..LD, local) or a YAML path "
        "(default: bw300; local when every board is local-*, e.g. local4)",
    )
    sp.add_argument("--partition", default=None, help="layers | single | stages | unit indices like 0,4,9")
    sp.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="pass an option to the planner, e.g. --set grid=4 --set max_volumes=6 (repeatable)",
    )
    sp.add_argument("-o", "--output", default=None, help="write the plan JSON here")


def _execute_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("plan", help="plan JSON file")
    sp.add_argument(
        "--backend",
        default=None,
        help="volumes, stages, nodes, tiles: local (one process, parts timed "
        "and composed; the default) or distributed (one process per device over torch.distributed/gloo); "
        "neurons (HyPS): hub (manager, workers and hub; the default; needs --folder)",
    )
    sp.add_argument(
        "--links",
        default=None,
        help="none (free / loopback; default), emulated (sleep the plan's link "
        "time before each send) or netns (distributed only, root: each device in its own network namespace, "
        "links shaped by tc to the plan's bandwidth)",
    )
    sp.add_argument(
        "--images",
        type=bounded_int(1, 100_000),
        default=None,
        help="images to record (a stream: one at a time; default 5)",
    )
    sp.add_argument(
        "--warmup", type=bounded_int(0, 10_000), default=None, help="unrecorded images first (default 1; tiles 0)"
    )
    sp.add_argument(
        "--threads", type=bounded_int(1, MAX_THREADS), default=None, help="torch threads per process (default 1)"
    )
    sp.add_argument(
        "--port", type=bounded_int(1024, 65535), default=None, help="rendezvous port (distributed; default a free one)"
    )
    sp.add_argument(
        "--timeout",
        type=bounded_float(0, 86_400, low_open=True),
        default=None,
        help="seconds before a distributed run is stopped (default 300)",
    )
    sp.add_argument(
        "--folder",
        default=None,
        help="a run folder where every finished part persists; an "
        "existing one resumes a killed run (distributed: volume plans; hub: HyPS plans)",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("splitgym")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="splitgym", description="Split CNN inference across heterogeneous edge devices.")
    p.add_argument("--version", action="version", version=f"splitgym {_version()}")
    p.add_argument("--debug", action="store_true", help="on a failure, print the full traceback")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    sub.required = True

    def verb(name: str, fn: Any, help_: str) -> argparse.ArgumentParser:
        return _verb(sub, name, fn, help_)

    sp = verb("graph", cmd_graph, "Show a model's traced units (layers/blocks) and head.")
    _model_args(sp, positional=True)
    sp = verb("profile", cmd_profile, "Measure per-unit latency vs output height here, or derive a board's profile.")
    _profile_args(sp)
    sp = verb(
        "profile-links",
        cmd_profile_links,
        "Measure the executors' transport (gloo over loopback / shaped netns) and write a link table JSON.",
    )
    _profile_links_args(sp)
    sp = verb("plan", cmd_plan, "Make a plan with a planner (see --list).")
    _plan_args(sp)
    sp = verb("simulate", cmd_simulate, "Score a plan: per-device compute, transfers, latency, IPS.")
    sp.add_argument("plan", help="plan JSON file")
    sp.add_argument(
        "--at", type=bounded_float(0, 1e9), default=0.0, help="time (s) at which to sample a time-varying network"
    )

    sp = verb(
        "execute",
        cmd_execute,
        "Run a plan for real: per-image latency, IPS, per-device times, max abs "
        "error vs the unsplit model (each plan kind has its backends; a wrong one says which).",
    )
    _execute_args(sp)

    sp = verb("train", cmd_train, "Train a split policy (Hydra app: overrides like agent=td3 devices=DA episodes=500).")
    sp.add_argument(
        "overrides", nargs=argparse.REMAINDER, help="Hydra overrides, e.g. devices=DA network=bw50 -m seed=0,1"
    )

    sp = verb("evaluate", cmd_evaluate, "Re-simulate a run's exported plan and run its exported actor.")
    sp.add_argument("run", help="a run folder (runs/train/<date>) or a folder of runs (the latest is used)")
    sp.add_argument("--split", default=None, help="DistrEdge-v1 runs: play this named split (default: the run's own)")
    sp.add_argument("--seeds", type=int, default=None, help="DistrEdge-v1/HiDP-v0 runs: this many seeded episodes")

    sp = verb("report", cmd_report, "Tabulate a multirun: every job's overrides and final results (table, CSV, PNG).")
    sp.add_argument("sweep_dir", type=nonempty_path, help="a multirun folder (hydra.sweep.dir)")
    sp.add_argument("--csv", default=None, help="CSV to write (default SWEEP_DIR/report.csv)")
    sp.add_argument("--png", default=None, help="plot to write (default SWEEP_DIR/report.png)")

    sp = verb(
        "list", cmd_list, "List device groups, networks, boards, planners, models or scenarios (of every env and kind)."
    )
    sp.add_argument("what", choices=["devices", "networks", "boards", "planners", "models", "scenarios", "splits"])

    sp = verb(
        "benchmark",
        cmd_benchmark,
        "Score planners, random search or trained runs over a named split (IQM, bootstrap CIs; CSV, MD, PNG).",
    )
    from splitgym.experiments.benchmark_cli import add_benchmark_args

    add_benchmark_args(sp)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; a bad input is one line and status 2, any other failure one line and status 1
    (the full traceback only with ``--debug`` before the verb, or ``SPLITGYM_DEBUG=1``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = argv[:1] == ["--debug"] or os.environ.get("SPLITGYM_DEBUG", "") not in ("", "0")
    argv = argv[1:] if argv[:1] == ["--debug"] else argv
    if debug:
        os.environ["SPLITGYM_DEBUG"] = "1"  # the training app reads it too
    if argv[:1] == ["train"]:  # everything after the verb belongs to Hydra (-m, --help, overrides)
        args = argparse.Namespace(verb="train", overrides=argv[1:], func=cmd_train, json=False)
    else:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse's one line (status 2), --help or --version (0)
            return exc.code if isinstance(exc.code, int) else 2
    try:
        args.func(args)
    except BrokenPipeError:  # output piped into head & co.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except SplitgymError as exc:
        print(f"splitgym {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"splitgym {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"splitgym {args.verb}: {one_line_failure(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure what a HyPS worker really needs per partition, and fit the planner's memory model on it.

    python -m splitgym.experiments.hyps_memory            # measure, fit, write the calibration
    python -m splitgym.experiments.hyps_memory --check    # measure only, print against the file

Every case runs one partition of VGG-16 (224x224) on a *fresh* worker process of the HyPS hub
(:mod:`executors.neurons.hyps_worker`, no limit), which reports its address space after warm-up
(the base ``RLIMIT_AS`` is set relative to) and its high-water marks after the job: ``VmPeak``
(address space, the quantity ``RLIMIT_AS`` bounds) and ``VmHWM`` (peak resident set). One fresh
process per case, because both marks only ever grow. Cases: fc6 (102.8 M parameters) whole and
in 2..8 neuron parts, fc7 whole and halved, fc8, and every convolution and pooling layer (the
first convolution runs in the manager in a hub run; it is measured here all the same).

The fit is the :class:`~costmodels.neurons.neuron_spans.MemoryModel`: ``footprint = a x weights +
b x (input + output) + conv terms (weights, output) + pool term (output) + c``, by least squares
(numpy) on the terms :func:`~costmodels.neurons.neuron_spans.span_terms` gives each case, then
``c`` is raised by the largest under-prediction so that the model bounds every measured case: a
partition the planner accepts under a budget then runs under ``RLIMIT_AS`` at that budget.
``--bisect`` checks that: for fc6 in 2 and 4 parts, the smallest budget (to 0.25 MiB) under which
the worker runs the part, beside the address space measured and the model's bytes.
``--torch-load`` adds one case the worker does not use: fc6's first half received as
``torch.save`` bytes and read with ``torch.load`` (where a second weight copy would come from).
The result goes to ``costmodels/data/hyps_memory.json`` (``--out``), which
:mod:`costmodels.neurons.neuron_spans` reads; the cases sit beside the fit in that file.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.neuron_spans import (
    MEMORY_FILE,
    MemoryModel,
    Span,
    equal_parts,
    layer_spans,
    partition_bytes,
    span_terms,
)
from splitgym.executors.neurons.hyps_hub import Hub, MemoryBudgetError, Workers, collect, send_job
from splitgym.executors.neurons.neuron_modules import partition_module

__all__ = ["probe", "span_inputs", "cases", "fit", "main"]

COMMAND = "python -m splitgym.experiments.hyps_memory"
MiB = 2**20


def probe(module: torch.nn.Module, x: torch.Tensor, budget: int | None = None, device: str = "probe") -> dict[str, Any]:
    """Run ``module`` on ``x`` in a fresh hub worker limited to ``budget`` bytes over its base
    (None: unlimited). Returns its memory marks and timings, or ``{"error": line}`` when the
    budget refuses it (the hub's :class:`MemoryBudgetError`)."""
    with tempfile.TemporaryDirectory() as d:
        workers = Workers(Hub(d), {device: budget}, 0.0)
        try:
            info = {"key": "probe", "layers": type(module).__name__, "neurons": None}
            send_job(workers, device, info, module, x)
            _, info, out = collect(workers, {device: info})
            ready = workers.ready[device]
        except MemoryBudgetError as exc:
            return {"error": str(exc)}
        finally:
            workers.stop()
    reply = info["reply"]
    return {
        "address_space_bytes": reply["vm_peak"] - ready["ready_vm_size"],
        "warmup_overshoot_bytes": ready["ready_vm_peak"] - ready["ready_vm_size"],
        "peak_rss_bytes": reply["vm_hwm"] - ready["ready_vm_rss"],
        "output": out,
        "compute_s": reply["compute_s"],
    }


def span_inputs(graph: ModelGraph, spans: list[Span], x: torch.Tensor) -> list[torch.Tensor]:
    """Each span's input for image ``x`` (the previous span's output), computed in this process."""
    outs = [x]
    with torch.no_grad():
        for i in range(len(spans) - 1):
            outs.append(partition_module(graph, spans, i, i)(outs[-1]))
    return outs


def cases(spans: list[Span], fc6_parts: range) -> list[tuple[str, int, tuple[int, int] | None]]:
    """(label, span index, neuron range or None) of every case measured (see the module doc)."""
    fc6, fc7, fc8 = (s for s in spans if s.unit is None)
    out: list[tuple[str, int, tuple[int, int] | None]] = []
    for k in fc6_parts:
        out.append((f"fc6/{k}", fc6.index, equal_parts(fc6.neurons, k)[0]))
    out += [("fc7", fc7.index, None), ("fc7/2", fc7.index, equal_parts(fc7.neurons, 2)[0]), ("fc8", fc8.index, None)]
    out += [(s.name, s.index, None) for s in spans if s.unit is not None]
    return out


def _measure(graph: ModelGraph, spans: list[Span], inputs: list[torch.Tensor], case: tuple) -> dict[str, Any]:
    label, i, neurons = case
    mod = partition_module(graph, spans, i, i, neurons)
    x = inputs[i]
    got = probe(mod, x)
    got.pop("output")
    share = 1.0 if neurons is None else (neurons[1] - neurons[0]) / spans[i].neurons
    terms = {"weights": spans[i].param_bytes * share, **span_terms(spans[i], share)}
    return {"case": label, "layer": spans[i].name, "kind": spans[i].kind, **terms, **got}


def torch_load_case(graph: ModelGraph, spans: list[Span]) -> dict[str, Any]:
    """fc6's first half as ``torch.save`` bytes read back with ``torch.load`` in a fresh process:
    the address space it needs over its base, beside the weights' bytes."""
    fc6 = next(s for s in spans if s.unit is None)
    mod = partition_module(graph, spans, fc6.index, fc6.index, equal_parts(fc6.neurons, 2)[0])
    buf = io.BytesIO()
    torch.save(mod.state_dict(), buf)
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=_torch_load_child, args=(theirs,))
    p.start()
    mine.recv()
    mine.send_bytes(buf.getbuffer())
    grew = mine.recv()
    p.join()
    weights = sum(t.numel() * t.element_size() for t in mod.state_dict().values())
    return {"case": "fc6/2 via torch.load", "layer": fc6.name, "weight_bytes": weights, "address_space_bytes": grew}


def _torch_load_child(conn: Any) -> None:
    import torch  # noqa: F811 - the child's own import, before its base is read

    from splitgym.executors.neurons.hyps_worker import memory_marks

    torch.zeros(1)
    base = memory_marks()["vm_size"]
    conn.send("ready")
    data = conn.recv_bytes()
    state = torch.load(io.BytesIO(data), weights_only=True)
    conn.send(memory_marks()["vm_peak"] - base)
    del state


def smallest_budget(
    graph: ModelGraph,
    spans: list[Span],
    inputs: list[torch.Tensor],
    k: int,
    rows: list[dict[str, Any]],
    model: dict[str, float],
    step: int = MiB // 4,
) -> dict[str, Any]:
    """The smallest ``RLIMIT_AS`` budget (to ``step`` bytes) under which fc6's largest part of
    ``k`` runs in a fresh worker, by bisection around its measured address space."""
    fc6 = next(s for s in spans if s.unit is None)
    a, b = equal_parts(fc6.neurons, k)[0]
    mod = partition_module(graph, spans, fc6.index, fc6.index, (a, b))
    measured = next(r["address_space_bytes"] for r in rows if r["case"] == f"fc6/{k}")
    lo, hi = (measured - 8 * MiB) // step, (measured + 16 * MiB) // step  # lo fails, hi runs
    if "error" not in probe(mod, inputs[fc6.index], lo * step) or "error" in probe(mod, inputs[fc6.index], hi * step):
        raise RuntimeError(f"fc6/{k}: the bracket {lo * step / MiB}..{hi * step / MiB} MiB does not hold the limit")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if "error" not in probe(mod, inputs[fc6.index], mid * step) else (mid, hi)
    mm = MemoryModel(**{key: model[key] for key in (*MemoryModel.TERMS, "constant_bytes")})
    return {
        "case": f"fc6/{k}",
        "smallest_budget_mib": hi * step / MiB,
        "address_space_mib": measured / MiB,
        "model_mib": partition_bytes([fc6], (b - a) / fc6.neurons, mm) / MiB,
    }


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Least squares of the address space on the :class:`MemoryModel` terms and a constant, then
    the constant raised so the model bounds every row; the residual range that leaves, in MiB."""
    A = np.array([[r[k] for k in MemoryModel.TERMS] + [1.0] for r in rows], dtype=float)
    y = np.array([r["address_space_bytes"] for r in rows], dtype=float)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    c_bound = coef[-1] + max(0.0, float(resid.max()))
    return {
        **{k: float(v) for k, v in zip(MemoryModel.TERMS, coef[:-1])},
        "constant_bytes": float(np.ceil(c_bound)),
        "fit_constant_bytes": float(coef[-1]),
        "max_under_mib": float(resid.max() / MiB),
        "max_over_mib": float((resid.max() - resid.min()) / MiB),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MEMORY_FILE, help="calibration file (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="measure and print; write nothing")
    ap.add_argument("--torch-load", action="store_true", help="also measure fc6/2 read with torch.load")
    ap.add_argument("--bisect", action="store_true", help="also find fc6/2's and fc6/4's smallest RLIMIT_AS budget")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    graph = ModelGraph.from_torchvision("vgg16")
    spans = layer_spans(graph)
    inputs = span_inputs(graph, spans, torch.randn(1, 3, 224, 224))
    rows = []
    for case in cases(spans, range(1, 9)):
        rows.append(_measure(graph, spans, inputs, case))
        r = rows[-1]
        print(
            f"{r['case']:<14} weights {r['weights'] / MiB:8.1f} MiB  act {r['activations'] / MiB:6.2f} MiB  "
            f"address space +{r['address_space_bytes'] / MiB:7.1f} MiB  peak RSS +{r['peak_rss_bytes'] / MiB:7.1f} MiB",
            flush=True,
        )
    model = fit(rows)
    print(json.dumps(model, indent=1))
    extra = [torch_load_case(graph, spans)] if args.torch_load else []
    if args.bisect:
        extra += [smallest_budget(graph, spans, inputs, k, rows, model) for k in (2, 4)]
    for r in extra:
        if "smallest_budget_mib" in r:
            print(json.dumps(r))
            continue
        print(f"{r['case']}: weights {r['weight_bytes'] / MiB:.1f} MiB, +{r['address_space_bytes'] / MiB:.1f} MiB")
    if not args.check:
        doc = {"command": COMMAND, "model": "vgg16 3x224x224", **model, "cases": rows, "extra": extra}
        atomic_write(args.out, json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

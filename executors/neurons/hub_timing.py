"""Where a HyPS hub run's time goes: computation vs communication, per part and per partition.

The paper reports an inference's time as computation ("the duration for nodes to process an
inference, excluding communications") plus communication ("the transfer time of intermediate
feature map from one partition to another", HY L270-L274). The hub measures every part's job on
its own clock and the worker reports its own (:mod:`hyps_worker`), so each part splits into:

* ``setup_s``: the manager sending the part's structure (a pickled ``torch.fx`` module with meta
  tensors) until the worker has rebuilt it and allocated its buffers: a cost per part, whatever
  its size (the fx module is compiled again in the worker).
* ``weights_s``: the part's weights through the pipe into the worker's buffer. HyPS deploys
  partitions before the inference; we ship them with every job, so both are reported apart from
  the feature maps' communication.
* ``input_s`` / ``output_s``: the feature map to the worker and back (pipe time plus, with
  ``links="emulated"``, the plan's link time the worker waited); their sum is ``communication_s``.
* ``load_s``: the weights becoming tensors (no copy); ``compute_s``: the worker's forward pass.
* ``persist_s``: the hub storing the output (``torch.save``, fsync, journal line).
* ``other_s``: the rest of the part's wall time (pickling the header, process scheduling).

A partition sums its parts' columns and adds the persist of the concatenated map of a neuron
split; its ``wall_s`` runs from the hub holding its input to the hub holding its output. On one
device the parts run in turn, so the columns sum to ``wall_s`` (``other_s`` absorbs the gaps; it
can be slightly negative: a pipe write can return in the hub after the worker has read the bytes
and started its clock, so the two processes' intervals overlap by a scheduling slice); on several
devices the parts overlap and the sum exceeds the wall time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLUMNS", "part_record", "partition_record"]

#: The columns of the breakdown, in the order they happen.
COLUMNS = ("setup_s", "weights_s", "input_s", "load_s", "compute_s", "output_s", "persist_s", "other_s")


def part_record(partition: int, device: str, info: dict[str, Any], persist_s: float, end: float) -> dict[str, Any]:
    """One finished part's breakdown from the hub's job ``info`` (its timing, bytes and the
    worker's reply) and the seconds the hub took to persist its output, ending at ``end``."""
    t, reply = info["timing"], info["reply"]
    row = {
        "partition": partition,
        "key": info["key"],
        "device": device,
        "setup_s": t["setup_s"],
        "weights_s": t["weights_s"],
        "input_s": t["input_pipe_s"] + reply["link_in_s"],
        "load_s": reply["load_s"],
        "compute_s": reply["compute_s"],
        "output_s": reply["link_out_s"] + reply["output_pipe_s"],
        "persist_s": persist_s,
        "link_s": reply["link_in_s"] + reply["link_out_s"],
        "wall_s": end - t["start"],
        "weight_bytes": info["bytes"]["weights"],
        "input_bytes": info["bytes"]["input"],
        "output_bytes": reply["nbytes"],
        "vm_peak": reply["vm_peak"],
        "vm_hwm": reply["vm_hwm"],
        "held_bytes": reply["held_bytes"],  # address space earlier jobs left in the worker
    }
    row["other_s"] = row["wall_s"] - sum(row[c] for c in COLUMNS if c != "other_s")
    row["communication_s"] = row["input_s"] + row["output_s"]
    return row


def partition_record(
    index: int, layers: str, parts: list[dict[str, Any]], wall_s: float, concat_persist_s: float
) -> dict[str, Any]:
    """A partition's breakdown: its parts' columns summed, plus the concatenated map's persist."""
    row: dict[str, Any] = {"partition": index, "layers": layers, "parts": len(parts)}
    row["devices"] = sorted({p["device"] for p in parts})
    for c in COLUMNS[:-1]:
        row[c] = sum(p[c] for p in parts)
    row["persist_s"] += concat_persist_s
    row["wall_s"] = wall_s
    row["other_s"] = wall_s - sum(row[c] for c in COLUMNS[:-1])
    row["communication_s"] = row["input_s"] + row["output_s"]
    row["link_s"] = sum(p["link_s"] for p in parts)
    row["feature_bytes"] = sum(p["input_bytes"] + p["output_bytes"] for p in parts)
    row["weight_bytes"] = sum(p["weight_bytes"] for p in parts)
    return row

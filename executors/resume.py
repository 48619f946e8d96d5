"""A hub folder that persists every finished part, so a killed distributed run resumes.

Layout: ``fingerprint.json`` (what the hub belongs to: plan, model, seeds, code version; a run of
another refuses the folder), ``plan.json`` (the plan, for people), ``.lock`` (held by the running
launcher: a second run on the folder fails at once), and per image ``img00042/``: ``s003-r1.pt``
(rank 1's output of stage 3: a volume part, or the head) and ``result.pt`` (what the requester
received). Every file is written to a temporary name and renamed, so a process killed mid-write
leaves either the whole file or none. ``compute-r<rank>.log`` lines ``image stage`` record every
part a rank computed (the tests read them to see that nothing finished was computed again).

On a (re)start every rank reads the hub *before* the process group forms, when no rank of this
run can have written yet, so all ranks see the same state and agree without messages: an image
with ``result.pt`` is done and skipped; otherwise it restarts after its last *complete* stage
(every part of it persisted), whose owners load their parts and send them on as if just computed.
Parts of the stage that was running when the run died are computed again, but only one copy ever
reaches the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from splitgym.costmodels.atomic import atomic_torch_save, atomic_write
from splitgym.costmodels.run_folder import code_version, digest, stamp_fingerprint

__all__ = ["ResumeHub"]


class ResumeHub:
    """``seed``: the images' seed (parts of other images must not be reused); the folder's
    fingerprint (plan, model, weights seed 0, images' seed, code version) is recorded on the first
    run and a folder of another run is refused in one line."""

    def __init__(self, folder: str | Path, plan_json: dict, seed: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        fingerprint = {
            "plan": digest(plan_json),
            "model": str(plan_json.get("model", {}).get("name")),
            "weights_seed": 0,
            "seed": seed,
            "code": code_version(),
        }
        if not stamp_fingerprint(self.folder, fingerprint, "hub"):
            atomic_write(self.folder / "plan.json", json.dumps(plan_json, sort_keys=True))  # for people

    # -- paths ------------------------------------------------------------------------------------
    def _img(self, img: int) -> Path:
        return self.folder / f"img{img:05d}"

    def part_path(self, img: int, stage: int, rank: int) -> Path:
        return self._img(img) / f"s{stage:03d}-r{rank}.pt"

    def result_path(self, img: int) -> Path:
        return self._img(img) / "result.pt"

    # -- state ------------------------------------------------------------------------------------
    def done(self, img: int) -> bool:
        return self.result_path(img).exists()

    def resume_stage(self, img: int, stage_ranks: list[list[int]]) -> int:
        """The last stage whose every part is persisted (-1: start from the image)."""
        last = -1
        for s, ranks in enumerate(stage_ranks):
            if ranks and all(self.part_path(img, s, r).exists() for r in ranks):
                last = s
        return last

    def load(self, img: int, stage: int, rank: int) -> torch.Tensor:
        return torch.load(self.part_path(img, stage, rank), weights_only=True)

    def results(self, images: int) -> list[torch.Tensor | None]:
        return [torch.load(self.result_path(i), weights_only=True) if self.done(i) else None for i in range(images)]

    def computed(self) -> list[tuple[int, int, int]]:
        """Every (image, stage, rank) any run computed, in the order written."""
        out = []
        for log in sorted(self.folder.glob("compute-r*.log")):
            rank = int(log.stem.split("-r")[1])
            for line in log.read_text().splitlines():
                img, stage = line.split()
                out.append((int(img), int(stage), rank))
        return out

    # -- writing ----------------------------------------------------------------------------------
    def save_part(self, img: int, stage: int, rank: int, y: torch.Tensor) -> None:
        atomic_torch_save(y.clone(), self.part_path(img, stage, rank))
        with open(self.folder / f"compute-r{rank}.log", "a") as f:
            f.write(f"{img} {stage}\n")

    def save_result(self, img: int, y: torch.Tensor) -> None:
        atomic_torch_save(y.clone(), self.result_path(img))

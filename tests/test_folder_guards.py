"""Run folders of the executors (the distributed ``--folder`` hub, HyPS's hub): a folder of
another run is refused in one line, a second run on a folder in use fails at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from splitgym.costmodels.run_folder import FolderError, folder_lock
from splitgym.executors.neurons.hyps_hub import run_hyps
from splitgym.executors.resume import ResumeHub
from splitgym.executors.volumes import volume_distributed as dx

from .test_executor_distributed import spawned_children, uneven_plan
from .test_hyps_executor import tiny, tiny_plan  # noqa: F401  (tiny: a fixture)


def test_a_hub_of_other_images_is_refused(tmp_path: Path) -> None:
    plan = uneven_plan(2).model_dump(mode="json")
    ResumeHub(tmp_path, plan, seed=1)
    assert ResumeHub(tmp_path, plan, seed=1).folder == tmp_path  # the same run resumes
    with pytest.raises(FolderError, match=r"hub: .* holds a run of another seed \(seed=1\); use an empty folder"):
        ResumeHub(tmp_path, plan, seed=2)


def test_a_second_run_on_a_folder_in_use_fails_at_once(tmp_path: Path) -> None:
    with folder_lock(tmp_path, "folder"), pytest.raises(FolderError, match=r"is in use by another run \(pid \d+\)"):
        dx.run_distributed(uneven_plan(2), images=1, hub=tmp_path, timeout_s=60)
    assert not spawned_children()
    assert not (tmp_path / "fingerprint.json").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_hyps_folder_of_another_plan_is_refused(tiny, tmp_path: Path) -> None:  # noqa: F811
    """A 3-partition folder under a 4-device plan used to crash and ask to be run again, forever."""
    m, g = tiny
    x = torch.randn(1, 3, 32, 32)
    first = run_hyps(tiny_plan(g, 3), g, x, tmp_path)
    torch.testing.assert_close(first.output, m(x).detach())
    with pytest.raises(FolderError, match="hub: .* holds a run of another plan"):
        run_hyps(tiny_plan(g, 4), g, None, tmp_path)
    with folder_lock(tmp_path, "folder"), pytest.raises(FolderError, match="in use by another run"):
        run_hyps(tiny_plan(g, 3), g, None, tmp_path)

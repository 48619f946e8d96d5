"""A killed distributed run resumes from its hub: every image's result arrives once and equals
the unsplit model's, finished parts are not computed again, a hub of another plan is refused."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.models import build_model
from splitgym.executors.resume import ResumeHub
from splitgym.executors.volumes import volume_distributed as dx

from .test_executor_distributed import spawned_children, uneven_plan

IMAGES = 3


def test_a_killed_worker_resumes_from_the_hub_and_loses_nothing(tmp_path) -> None:
    plan, hub_dir = uneven_plan(2), tmp_path / "hub"
    with pytest.raises(SplitgymError, match=r"worker rank 1 \(xavier-0\) was killed by SIGKILL"):
        dx.run_distributed(plan, images=IMAGES, warmup=0, hub=hub_dir, fail_rank=1, fail_at="kill:1:2", timeout_s=300)
    assert not spawned_children()
    hub = ResumeHub(hub_dir, plan.model_dump(mode="json"), seed=1)  # run_distributed's default images' seed
    assert hub.done(0) and not hub.done(1) and not hub.done(2)
    before = Counter(hub.computed())

    res = dx.run_distributed(plan, images=IMAGES, warmup=0, hub=hub_dir, timeout_s=300)
    assert res.meta["skipped_images"] == 1
    ((img, stage),) = res.meta["resumed"].items()
    assert img == 1 and stage >= 1  # rank 1 died before stage 2: stages 0 and 1 were persisted

    after = Counter(hub.computed())
    again = {k: n for k, n in after.items() if n > 1}
    # only parts of image 1's interrupted stages may run twice; nothing of image 0 or of stages
    # that were complete when the worker died
    assert all(i == 1 and s > stage for (i, s, _) in again), again
    assert all(after[k] == n for k, n in before.items() if k[0] == 0 or k[1] <= stage)

    model = build_model(plan.model.name, seed=0)
    with torch.inference_mode():
        refs = [model(x) for x in dx._images(IMAGES, tuple(plan.model.input), 1)]
    for y, ref in zip(hub.results(IMAGES), refs):
        torch.testing.assert_close(y.reshape(ref.shape), ref, rtol=1e-4, atol=1e-5)

    done = dx.run_distributed(plan, images=IMAGES, warmup=0, hub=hub_dir, timeout_s=300)
    assert done.meta["skipped_images"] == IMAGES and Counter(hub.computed()) == after


def test_a_hub_of_another_plan_is_refused(tmp_path) -> None:
    ResumeHub(tmp_path, uneven_plan(2).model_dump(mode="json"))
    other = uneven_plan(2, mbps=50.0)
    with pytest.raises(SplitgymError, match="holds a run of another plan"):
        dx.run_distributed(other, images=1, hub=tmp_path)

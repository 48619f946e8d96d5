"""Shared fixtures: an empty profile cache per session (tests use only the profiles shipped in
``costmodels/data/profiles`` or synthetic ones) and small helpers."""

from __future__ import annotations

import pytest
import torch

from splitgym.costmodels.graph import ModelGraph

from .helpers import random_cuts, synthetic_profile  # noqa: F401  (re-exported for tests)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SPLITGYM_HOME", str(tmp_path_factory.mktemp("splitgym_home")))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def vgg16() -> ModelGraph:
    return ModelGraph.from_torchvision("vgg16")


@pytest.fixture(scope="module")
def one_thread():
    """Many small convolutions: on a shared CPU one thread is faster than waiting at barriers."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

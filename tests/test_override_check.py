"""``splitgym train``'s overrides: what Hydra cannot compose is one line naming the override (no
listing of options line by line, no HYDRA_FULL_ERROR hint); valid ones, sweeps and user config
folders pass to Hydra untouched."""

from __future__ import annotations

import pytest

from splitgym.costmodels.errors import ConfigError
from splitgym.experiments.cli import main
from splitgym.experiments.override_check import check_overrides


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["devices=nope"], "override: devices=nope: no such devices config (known: DA, DB, DC"),
        (["agent=ppx"], "override: agent=ppx: no such agent config (known: ddpg, ppo, sac, td3)"),
        (["nope=1"], "override: Could not override 'nope'."),
        (["seed=["], "override: no viable alternative at input '['"),
    ],
)
def test_uncomposable_overrides_are_one_line(overrides: list[str], message: str, capsys: pytest.CaptureFixture):
    with pytest.raises(ConfigError) as err:
        check_overrides(overrides)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert main(["train", *overrides]) == 2
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and "HYDRA_FULL_ERROR" not in err_text and "Traceback" not in err_text


@pytest.mark.parametrize(
    "overrides",
    [
        ["devices=DB", "network=bw50", "agent=ppo", "episodes=3", "hydra.run.dir=/tmp/x"],
        ["experiment=demo"],
        ["env=nptp"],
        ["agent.kwargs.learning_rate=1e-3,1e-4"],  # a sweep: Hydra composes each job
        ["--config-dir", "/nonexistent", "devices=mylab"],  # a user's folder: Hydra's to search
    ],
)
def test_composable_sweeps_and_user_folders_pass(overrides: list[str]):
    check_overrides(overrides)

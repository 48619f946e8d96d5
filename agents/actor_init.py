"""Start a fresh actor at the centre of its action box (``agent.actor_init_scale``; ours).

Why: with an action whose centre already means something (the share action's a = 0 is the
classical linear-ratio split, costmodels/volumes/share_actions.py), a randomly initialised actor throws that
away: its tanh outputs start anywhere in [-0.5, 0.5], i.e. device weights off by e^{+-2}, and DDPG
spends its exploration budget finding its way back. Scaling the actor's last linear layer by a
small factor (0.01) makes the first actions ~0, so exploration starts around the prior -- the
"zero-initialised last layer" habit of residual policies. The rest of the network is untouched,
so learning is not slowed; the target actor is synchronised so both start equal. Scale 0 zeroes
the layer: the first actions are exactly the centre (a = 0), and the first gradient step moves the
layer off zero, as in a residual policy's zero-initialised head.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from splitgym.costmodels.errors import ConfigError

__all__ = ["scale_actor_output"]


def _last_linear(module: nn.Module) -> nn.Linear:
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ConfigError(f"actor_init_scale: no linear layer in {type(module).__name__}")
    return layers[-1]


def scale_actor_output(model: Any, scale: float) -> None:
    """Multiply the weights and bias of the actor's last linear layer by ``scale`` (SB3's
    DDPG/TD3 ``actor.mu`` + ``actor_target``, SAC's ``actor.mu``, PPO/A2C's ``action_net``)."""
    if not scale >= 0:
        raise ConfigError(f"actor_init_scale: must be >= 0, got {scale}")
    policy = model.policy
    actor = getattr(policy, "actor", None)
    head = getattr(actor, "mu", None) if actor is not None else None
    if head is None:
        head = getattr(policy, "action_net", None)
    if head is None:
        raise ConfigError(f"actor_init_scale: {type(policy).__name__} has no actor output layer")
    layer = _last_linear(head)
    with torch.no_grad():
        layer.weight.mul_(scale)
        layer.bias.mul_(scale)
    target = getattr(policy, "actor_target", None)
    if target is not None:
        target.load_state_dict(actor.state_dict())

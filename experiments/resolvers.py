"""OmegaConf resolvers used by presets (e.g. weak scaling: ``size: ${mul:${workers},32}``)."""

from __future__ import annotations

from omegaconf import OmegaConf


def register() -> None:
    if not OmegaConf.has_resolver("mul"):
        OmegaConf.register_new_resolver("mul", lambda a, b: int(a) * int(b))
    if not OmegaConf.has_resolver("div"):
        OmegaConf.register_new_resolver("div", lambda a, b: max(1, int(a) // int(b)))


register()

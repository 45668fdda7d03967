"""Config to backend: the backend a config names (native, genn-cpu, genn-cuda), built for a network, with the
config's regularisation set."""
from __future__ import annotations

from typing import Optional

from genn_eventprop.backends.base import Backend
from genn_eventprop.builder import hidden_names
from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.network import Network


def genn_backend_module(what: str):
    """genn_eventprop.backends.genn, or one clear line while the GeNN emitter is not part of this version."""
    import importlib
    try:
        return importlib.import_module("genn_eventprop.backends.genn")   # optional: needs pygenn
    except ModuleNotFoundError as err:
        if err.name != "genn_eventprop.backends.genn":
            raise
        raise UserError(f"{what}: the GeNN emitter is not part of this version of genn-eventprop yet; use "
                        "backend: native (docs/genn.md says what is ready)") from None


def adam_on_device(cfg) -> bool:
    """Whether the trainer's Adam runs as a GeNN custom update (train.optimiser.on; auto: on genn-cuda)."""
    on = cfg.train.optimiser.on
    return on == "device" or (on == "auto" and cfg.backend == "genn-cuda")


def make_backend(cfg, network: Network, precision: Optional[str] = None, threads: Optional[int] = None) -> Backend:
    """The config's backend for network (precision and threads: the config's unless given)."""
    precision = precision or cfg.precision
    if cfg.backend == "native":
        from genn_eventprop.backends.native import NativeBackend
        backend = NativeBackend(network, precision=precision, threads=cfg.threads if threads is None else threads,
                                max_spikes=cfg.train.max_spikes, delivery=cfg.delivery)
    else:
        backend = genn_backend_module(cfg.backend).GeNNBackend(network, kind=cfg.backend, precision=precision,
                                                                max_spikes=cfg.train.max_spikes,
                                                                batch_size=cfg.train.batch_size,
                                                                device_adam=adam_on_device(cfg))
    r = cfg.train.regularisation
    if r.convention == "published" and r.nu_lower:
        raise ConfigError("train.regularisation.nu_lower: the published convention is two-sided around nu_upper "
                          "(lambda_lower acts below it, as mlGeNN's reg_lambda_lower); remove nu_lower")
    for name, layer in zip(hidden_names(cfg), cfg.model.hidden_layers):
        # published units: mlGeNN's adjoint of V is ours divided by -tau_mem^2 (README, "Published settings")
        backend.set_regularisation(name, r.lambda_upper, r.nu_upper, r.lambda_lower, r.nu_lower, r.convention,
                                   layer.tau_mem ** 2 if r.convention == "published" else 1.0)
    return backend

"""The GeNN backends (genn-cpu, genn-cuda): the model definitions of codegen/genn.py built and run by pygenn.

The network runs in the timing model `delivery: next_step` (codegen/genn.py says why), so its spike
times, readouts and losses match the native backend run with `delivery: next_step`
(tests/test_genn_backend.py). Model parameters (time constants, thresholds, the readout's parameters)
are GeNN dynamic parameters: changing them does not rebuild the model.

The backward pass runs on GeNN too, after the forward pass of each batch, in reversed time (Phase 1
of every neuron model); the weight gradients accumulate per synapse and trial and are summed here.

The backend's parts: backends/genn_pygenn.py (pygenn and its model objects), genn_build.py (building and loading
the model), genn_trials.py (loading trials, reading what they leave), genn_device_adam.py (Adam on the device).
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from genn_eventprop.backends.base import Backend, BatchResult, BuildStatus
from genn_eventprop.backends.genn_build import ModelBuilding
from genn_eventprop.backends.genn_device_adam import DeviceAdamSupport
from genn_eventprop.backends.genn_pygenn import BACKENDS, pygenn_version
from genn_eventprop.backends.genn_trials import TrialIO
from genn_eventprop.backends.native import default_cache_dir
from genn_eventprop.codegen.genn import GeNNNetworkDef, emit_genn
from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.network import Network

__all__ = ["BACKENDS", "GeNNBackend", "pygenn_version"]


class GeNNBackend(ModelBuilding, TrialIO, DeviceAdamSupport, Backend):
    """Runs batches of trials of one network on GeNN (the interface: backends/base.py). The model is built at
    the first batch (or generate), for that batch's dt, and again for a new dt."""

    def __init__(self, network: Network, kind: str = "genn-cpu", precision: str = "float32", max_spikes: int = 1500,
                 batch_size: int = 1, cache_dir: Optional[str] = None, input_capacity: int = 200_000,
                 device_adam: bool = False):
        """device_adam: build for Adam on the device (device_optimiser): every synapse group computes all of its
        connection's dL/dw and steps its own copy of the weights; otherwise the first group of a connection
        computes dL/dw, which comes to the host."""
        if kind not in BACKENDS:
            raise ConfigError(f"GeNN backend must be one of {sorted(BACKENDS)}, got {kind!r}")
        if network.input_population.delay is not None:
            raise ConfigError(f"backend {kind} cannot run input delays (GeNN's delays are whole time steps, these are "
                              "exact times in ms); use backend native (docs/delays.md)")
        super().__init__(network, precision, max_spikes)
        from genn_eventprop.backends.available import pygenn_backend_names
        if BACKENDS[kind] not in pygenn_backend_names():
            raise UserError(f"backend {kind}: the pygenn installed here has no {BACKENDS[kind]} backend (for CUDA: "
                            "built without CUDA_PATH, or no CUDA driver on this machine); docs/genn.md says how to "
                            "build it, or use backend: native")
        if kind == "genn-cpu" and batch_size != 1:
            raise ConfigError("backend genn-cpu (GeNN's CPU backend) runs batch size 1 only; set train.batch_size=1")
        self.name = kind
        self.batch_size = int(batch_size)
        self.input_capacity = int(input_capacity)   # input spike times per batch the model holds
        self.device_adam_built = bool(device_adam)
        self.definition: GeNNNetworkDef = emit_genn(self.ir, self.adjoint, precision, every_copy_learns=device_adam)
        inp = self.network.input_population.name
        # whether every input connection sums a channel's spikes of a step (several spikes per step allowed)
        self._input_sums = all(g.pre_sum for g in self.definition.synapse_groups if g.pre == inp)
        self.regularisation = {p.name: (0.0, 0.0, 0.0, 0.0) for p in self.ir.populations.values() if p.spiking}
        self.delivery = "next_step"
        self.groups_of = {c.name: [g.name for g in self.definition.synapse_groups if g.connection == c.name]
                          for c in self.network.connections}   # every group holds a copy of the weights
        # Adam on the device (device_optimiser): the host arrays whose newest values are on the device, the
        # moments to load at the next build, and whether the last batch left its gradients there
        self.device_adam = None
        self._resident: Dict[str, np.ndarray] = {}
        self._pending_moments: Dict[str, tuple] = {}
        self._fresh_gradients = False
        self._dt = None
        self.model = None
        self.build_seconds = 0.0
        self._build_status = BuildStatus()
        self.cache_dir = cache_dir or os.path.join(os.path.dirname(default_cache_dir()), "genn")

    # -- the interface of backends/base.py ---------------------------------------------------------
    @property
    def build_status(self) -> BuildStatus:
        """Compiled once any build of this backend compiled GeNN's code; cached when every build reused it."""
        return self._build_status

    def set_params(self, values: Dict[str, object]):
        self.check_param_names(values)
        for k, v in values.items():
            self.params[k] = float(v) if np.ndim(v) == 0 else np.array(v, dtype=np.float64)
        if self.model is not None:
            self._push_params()

    def set_regularisation(self, population: str, lambda_upper=0.0, nu_upper=0.0, lambda_lower=0.0, nu_lower=0.0,
                           convention: str = "tool", scale: float = 1.0):
        if population not in self.regularisation:
            raise ConfigError(f"no spiking population {population!r} to regularise; have {sorted(self.regularisation)}")
        if convention != "tool":
            raise ConfigError("train.regularisation.convention: published (batch counts) runs on the native backend "
                              "only for now; use convention: tool on the GeNN backends")
        self.regularisation[population] = (lambda_upper, nu_upper, lambda_lower, nu_lower)

    def run_batch(self, weights: Dict[str, np.ndarray], batch, dt: float, compute_gradients: bool = True,
                  loss_scale: Optional[float] = None, record: bool = False) -> BatchResult:
        """Forward (and backward) pass of every trial in batch, batch_size trials at a time; as NativeBackend."""
        self._ensure_built(dt)
        if len(batch.times) > self.input_capacity:   # the spike-time array's size is fixed at load: reload it larger
            self.input_capacity = 2 * len(batch.times)
            self._stash_device_state()   # (loading starts every variable afresh)
            self.model.unload()
            self.pops[self.network.input_population.name].extra_global_params["SpikeTimes"].set_init_values(
                np.zeros(self.input_capacity, dtype=self.dtype))
            self.model.load()
            self._load_moments()
        n = len(batch.labels)
        scale = 1.0 / max(n, 1) if loss_scale is None else float(loss_scale)
        self._push_params(scale)
        arrays = self.checked_weights(weights)
        for c, values in arrays.items():
            if self._resident.get(c) is weights[c]:
                continue   # the device's Adam moved these very arrays on: the device holds their newest values
            self._resident.pop(c, None)
            self._push_weights(c, values)
        # with Adam on the device, a batch run in one go leaves its gradients there for the step
        keep = self.device_adam is not None and compute_gradients and n <= self.batch_size
        out = self.definition.readout_population
        labels = np.asarray(batch.labels)
        self.check_labels(labels)
        spiking = [p for p, ir in self.ir.populations.items() if ir.spiking]
        z = np.zeros((n, self.ir.populations[out].size))
        counts = {p: np.zeros(n, dtype=np.int64) for p in self.ir.populations}
        grads = {} if keep else {c.name: np.zeros(shape) for c, shape in zip(self.network.connections,
                                                                             self.network.weight_shapes().values())}
        self._fresh_gradients = False
        recorded = None
        param_grads = {label: np.zeros(self.ir.populations[label.split(".")[0]].size) for label in self.learnable}
        for first in range(0, n, self.batch_size):
            count = min(self.batch_size, n - first)
            self._start_trials(batch, first, count, dt)
            steps = int(self.trial_steps(batch.durations[first:first + count], dt).max())
            for _ in range(steps):
                self.model.step_time()
            lengths = self.trial_steps(batch.durations[first:first + count], dt) * dt
            z[first:first + count] = self.ir.readout.model.genn_scores(self._read(out, "Acc")[:count], lengths)
            for p in spiking:
                self._check_spike_search(p, first, count)
                counts[p][first:first + count] = np.rint(self._read(p, "Count")[:count].sum(axis=1))
            if record and first == 0:
                recorded = {p: self._spike_times(p) if p in spiking else (np.zeros(0), np.zeros(0, np.int32))
                            for p in self.ir.populations}
            if compute_gradients:
                self._backward(z[first:first + count], labels[first:first + count], scale, steps, grads)
                self._fresh_gradients = keep
                for label in self.learnable:   # dL/dp per neuron, summed over the trials
                    pop, name = label.split(".", 1)
                    param_grads[label] += self._read(pop, f"G_{name}")[:count].sum(axis=0)
        losses = self.ir.readout.model.loss(z, labels)
        if compute_gradients:   # a shared parameter's gradient is the sum over its neurons
            param_grads = {label: (g if label in self.per_neuron else float(g.sum())) for label, g in param_grads.items()}
        return BatchResult(losses, z, grads if compute_gradients else None, counts, recorded,
                           param_grads if compute_gradients else None)

    def _backward(self, z: np.ndarray, labels: np.ndarray, scale: float, steps: int, grads: Dict[str, np.ndarray]):
        """Reversed-time pass over the trials just run: dL/dz of the readout's loss drives the readout's adjoint; the
        synapses add up dL/dw; the sums over the trials land in grads (in the connections it names)."""
        out = self.definition.readout_population
        dLdz = np.zeros((self.batch_size, z.shape[1]))
        dLdz[:len(z)] = self.ir.readout.model.dloss(z, labels) * scale
        self._set_var(out, "DLdz", dLdz if self.batch_size > 1 else dLdz[0])
        self._set_phase(1)
        self.model.timestep = 0
        for _ in range(steps + 1):   # the first step only looks up the spikes of the last interval
            self.model.step_time()
        self._set_phase(0)
        self.model.custom_update("GradientReduce")   # on the device: sum over the batch, zero for the next
        for c in grads:   # the first group of c computes all of dL/dw
            v = self.reducers[self.groups_of[c][0]].vars["Reduced"]
            v.pull_from_device()
            grads[c] += np.array(v.view, dtype=np.float64).reshape(grads[c].shape)

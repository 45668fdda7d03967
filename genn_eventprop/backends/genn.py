"""The GeNN backends (genn-cpu, genn-cuda): the model definitions of codegen/genn.py built and run by pygenn.

The network runs in the timing model `delivery: next_step` (codegen/genn.py says why), so its spike
times, readouts and losses match the native backend run with `delivery: next_step`
(tests/test_genn_backend.py). Model parameters (time constants, thresholds, the readout's parameters)
are GeNN dynamic parameters: changing them does not rebuild the model.

The backward pass runs on GeNN too, after the forward pass of each batch, in reversed time (Phase 1
of every neuron model); the weight gradients accumulate per synapse and trial and are summed here.
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import Dict, Optional

import numpy as np

from genn_eventprop.backends.base import Backend, BatchResult, BuildStatus
from genn_eventprop.backends.genn_preferences import genn_preferences
from genn_eventprop.backends.native import default_cache_dir
from genn_eventprop.codegen.genn import ADAM_STEP, GRADIENT_REDUCE, GeNNNetworkDef, ModelDef, emit_genn
from genn_eventprop.errors import ConfigError, SpikeBufferOverflow, UserError
from genn_eventprop.network import Network

try:
    import pygenn
    from pygenn import (CustomUpdateVarAccess, GeNNModel, VarAccess, VarAccessMode, create_custom_update_model,
                        create_neuron_model, create_postsynaptic_model, create_weight_update_model,
                        create_wu_var_ref, init_postsynaptic, init_weight_update)
except ImportError as err:   # the backends module is imported only when a GeNN backend is asked for
    raise UserError("the GeNN backends need pygenn (GeNN 5), which is not installed here; docs/genn.md says how "
                    "to install it, or use backend: native") from err

BACKENDS = {"genn-cpu": "single_threaded_cpu", "genn-cuda": "cuda"}


def _access(name: str):
    return getattr(VarAccess, name)


_MODELS = {}   # pygenn model objects must outlive the GeNNModel that uses them (it keeps raw pointers)


def _create(m: ModelDef):
    key = repr(m)
    if key not in _MODELS:
        _MODELS[key] = _create_model(m)
    return _MODELS[key]


def _read_only(refs):
    return [(n, t, VarAccessMode.READ_ONLY) for n, t in refs] or None


def _create_model(m: ModelDef):
    if m.kind == "neuron":
        return create_neuron_model(m.class_name, params=[(p, "int" if p in m.int_params else "scalar") for p in m.params],
                                   vars=[(n, t, _access(a)) for n, t, a in m.vars],
                                   extra_global_params=m.extra_global_params or None,
                                   additional_input_vars=m.additional_input_vars or None, **m.code)
    if m.kind == "weight_update":
        return create_weight_update_model(m.class_name, params=m.params,
                                          vars=[(n, t, _access(a)) for n, t, a in m.vars],
                                          pre_neuron_var_refs=_read_only(m.pre_neuron_var_refs),
                                          post_neuron_var_refs=_read_only(m.post_neuron_var_refs), **m.code)
    if m.kind == "custom_update":
        return create_custom_update_model(m.class_name, params=m.params or None,
                                          vars=[(n, t, getattr(CustomUpdateVarAccess, a)) for n, t, a in m.vars],
                                          var_refs=[(n, t, getattr(VarAccessMode, a)) for n, t, a in m.var_refs], **m.code)
    return create_postsynaptic_model(m.class_name, params=m.params, **m.code)


def _library_version(code_dir: str):
    """The modification time (ns) of the library GeNN compiles from a model's code (None before the first
    build): GeNN leaves it alone when the model has not changed."""
    for name in ("librunner.so", "librunner.dylib", "runner.dll"):
        try:
            return os.stat(os.path.join(code_dir, name)).st_mtime_ns
        except OSError:
            pass
    return None


class GeNNBackend(Backend):
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

    # -- building ----------------------------------------------------------------------------------
    def _model_name(self, dt: float) -> str:
        key = hashlib.sha256(repr((self.definition, dt, self.name, self.precision, self.batch_size)).encode())
        return f"gep_{key.hexdigest()[:16]}"

    def _build(self, dt: float):
        """Create, build (GeNN skips code generation and compilation when nothing changed) and load."""
        start = time.perf_counter()
        self._stash_device_state()
        d = self.definition
        model = GeNNModel("float" if self.precision == "float32" else "double", self._model_name(dt),
                          backend=BACKENDS[self.name], **genn_preferences(self.name))
        model.dt = dt
        model.batch_size = self.batch_size
        pops = {}
        for pop in self.network.populations:
            m = d.neurons[pop.name]
            if pop.is_input:
                g = model.add_neuron_population(pop.name, pop.size, _create(m), {p: 0 for p in m.params},
                                                {n: 0 for n, _, _ in m.vars})
                for p in m.params:
                    g.set_param_dynamic(p)
                g.extra_global_params["SpikeTimes"].set_init_values(np.zeros(self.input_capacity, dtype=self.dtype))
            else:
                ir = self.ir.populations[pop.name]
                params = {p: 0.0 for p in m.params}
                vars_ = {n: 0.0 for n, _, _ in m.vars}
                g = model.add_neuron_population(pop.name, pop.size, _create(m), params, vars_)
                for p in m.params:
                    g.set_param_dynamic(p)
                if ir.spiking:
                    ring = self.batch_size * pop.size * self.max_spikes
                    for egp, size in (("SpikeRing", ring), ("StepRing", ring), ("GridRing", ring),
                                      ("XRing", ring * len(ir.state))):
                        g.extra_global_params[egp].set_init_values(np.zeros(size, dtype=self.dtype))
            pops[pop.name] = g
        self.groups, self.reducers, self.adam = {}, {}, {}
        for sg_def in d.synapse_groups:
            wu, psm = sg_def.weight_update, sg_def.postsynaptic
            shape = self.network.weight_shapes()[sg_def.connection]
            sg = model.add_synapse_population(
                sg_def.name, "DENSE", pops[sg_def.pre], pops[sg_def.post],
                init_weight_update(_create(wu), {p: 0.0 for p in wu.params},
                                   {"g": np.zeros(shape[0] * shape[1]), **({"Gradient": 0.0} if sg_def.learns else {})},
                                   pre_var_refs={n: n[:-len("_pre")] for n, _ in wu.pre_neuron_var_refs},
                                   post_var_refs=dict(sg_def.post_var_refs)),
                init_postsynaptic(_create(psm)))
            sg.post_target_var = sg_def.target_var
            if sg_def.error_target:
                sg.pre_target_var = sg_def.error_target
            for p in wu.params:
                sg.set_wu_param_dynamic(p)
            self.groups[sg_def.name] = sg
            if not sg_def.learns:
                continue
            # dL/dw of the group's copy of the weights, reduced over the batch; with Adam on the device, its step
            reducer = model.add_custom_update(f"{sg_def.name}_reduce", "GradientReduce", _create(GRADIENT_REDUCE), {},
                                              {"Reduced": 0.0}, {"Gradient": create_wu_var_ref(sg, "Gradient")})
            self.reducers[sg_def.name] = reducer
            if not self.device_adam_built:
                continue
            adam = model.add_custom_update(f"{sg_def.name}_adam", "AdamStep", _create(ADAM_STEP),
                                           {p: 1.0 for p in ADAM_STEP.params}, {"M": 0.0, "V": 0.0},
                                           {"Gradient": create_wu_var_ref(reducer, "Reduced"),
                                            "Weight": create_wu_var_ref(sg, "g")})
            for p in ADAM_STEP.params:
                adam.set_param_dynamic(p)
            self.adam[sg_def.name] = adam
        os.makedirs(self.cache_dir, exist_ok=True)
        code_dir = os.path.join(self.cache_dir, f"{self._model_name(dt)}_CODE")
        before = _library_version(code_dir)
        model.build(path_to_model=self.cache_dir)
        compiled = before is None or _library_version(code_dir) != before
        model.load()
        self.model, self.pops, self._dt = model, pops, dt
        self._push_params()
        self._load_moments()
        self.build_seconds = time.perf_counter() - start
        self._build_status = BuildStatus("compiled" if compiled or self._build_status.compiled else "cached",
                                         self.build_seconds, code_dir)

    def _set_phase(self, phase: int):
        for g in self.pops.values():
            g.set_dynamic_param_value("Phase", phase)

    def _push_params(self, loss_scale: float = 1.0):
        """Dynamic parameters (and per-neuron values, which are variables) from self.params."""
        d = self.definition
        self._set_phase(0)
        inp = self.network.input_population.name
        for p in d.neurons[inp].params:   # the targets' parameters the input neurons evaluate jumps with
            if p != "Phase":
                self.pops[inp].set_dynamic_param_value(p, float(self.params[p]))
        for name, ir in self.ir.populations.items():
            g = self.pops[name]
            reg = dict(zip(("RegLU", "RegNU", "RegLL", "RegNL"), self.regularisation.get(name, (0.0,) * 4)))
            for p in d.neurons[name].params:
                if p == "MaxSpikes":
                    g.set_dynamic_param_value(p, self.max_spikes)
                elif p == "Phase":
                    continue
                elif p in reg:
                    g.set_dynamic_param_value(p, float(reg[p]))
                elif p == "RegScale":
                    g.set_dynamic_param_value(p, float(loss_scale))
                else:
                    g.set_dynamic_param_value(p, float(np.asarray(self.params[p if p.startswith("readout_") else f"{name}_{p}"])))
            for p in d.per_neuron[name]:
                g.vars[p].view[...] = np.broadcast_to(np.asarray(self.params[f"{name}_{p}"], dtype=self.dtype),
                                                      g.vars[p].view.shape)
                g.vars[p].push_to_device()
        for sg_def in d.synapse_groups:
            for p, source in sg_def.param_values.items():
                self.groups[sg_def.name].set_dynamic_param_value(p, float(self.params[f"{sg_def.post}_{source}"]))

    def _ensure_built(self, dt: float):
        if self.model is None or dt != self._dt:
            self._build(dt)

    def generate(self, dt: float) -> str:
        """Build the model for time step dt; returns the folder of GeNN's generated source."""
        self._ensure_built(dt)
        return os.path.join(self.cache_dir, f"{self._model_name(dt)}_CODE")

    # -- running -----------------------------------------------------------------------------------
    @staticmethod
    def _push(v, values):
        """A pygenn variable set to values (a constant, or an array in any shape of the same size) on the device."""
        v.view[...] = np.reshape(values, v.view.shape) if np.ndim(values) else values
        v.push_to_device()

    def _set_var(self, pop: str, var: str, values):
        self._push(self.pops[pop].vars[var], values)

    def _start_trials(self, batch, first: int, count: int, dt: float):
        """Reset every state and load the input spikes of trials first .. first + count - 1."""
        d, B = self.definition, self.batch_size
        inp = self.network.input_population
        starts, ends, times = np.zeros((B, inp.size), np.int64), np.zeros((B, inp.size), np.int64), []
        offset = 0
        for b in range(count):
            s = first + b
            t = np.asarray(batch.times[batch.offsets[s]:batch.offsets[s + 1]], dtype=np.float64)
            u = np.asarray(batch.units[batch.offsets[s]:batch.offsets[s + 1]], dtype=np.int64)
            inside = t < self.trial_steps(batch.durations[s], dt) * dt   # (later spikes never reach the network)
            t, u = t[inside], u[inside]
            self.check_channels(u)
            order = np.lexsort((t, u))
            t, u = t[order], u[order]
            same = (u[1:] == u[:-1]) & (np.floor(t[1:] / dt) == np.floor(t[:-1] / dt))
            if same.any() and not self._input_sums:
                k = int(np.argmax(same))
                raise UserError(f"trial {s}: channel {int(u[k])} has two spikes in the step at {np.floor(t[k] / dt) * dt:g} ms; "
                                "with per-neuron parameters in the first layer the GeNN backends deliver one spike per "
                                "channel and step: lower dt, or use backend: native")
            counts = np.bincount(u, minlength=inp.size)
            starts[b] = offset + np.concatenate([[0], np.cumsum(counts)[:-1]])
            ends[b] = starts[b] + counts
            times.append(t)
            offset += t.size
        egp = self.pops[inp.name].extra_global_params["SpikeTimes"]
        egp.view[:offset] = np.concatenate(times) if times else []
        egp.push_to_device()
        self._set_var(inp.name, "StartSpike", starts if B > 1 else starts[0])
        self._set_var(inp.name, "EndSpike", ends if B > 1 else ends[0])
        self._set_var(inp.name, "FirstSpike", starts if B > 1 else starts[0])
        self._set_var(inp.name, "BackPos", ends if B > 1 else ends[0])
        for var, init in (("TSpike", -1.0e9), ("Spiked", 0), ("BackSpike", 0), ("BackS", 0.0)):
            self._set_var(inp.name, var, init)
        lengths = np.zeros(B)   # T = n_steps dt, as the native backend's readout
        lengths[:count] = self.trial_steps(batch.durations[first:first + count], dt) * dt
        for name in [p.name for p in self.network.populations]:
            self._set_var(name, "TrialT", lengths if B > 1 else lengths[0])
        for name, ir in self.ir.populations.items():
            for var, init in zip(d.state[name], d.initial[name]):
                self._set_var(name, var, init)
            for lam in self.adjoint[name].lam:
                self._set_var(name, lam.name, 0.0)
            for par in self.adjoint[name].params:
                self._set_var(name, f"G_{par.symbol.name}", 0.0)
                for var in d.state[name]:
                    self._set_var(name, f"Q_{par.symbol.name}_{var}", 0.0)
            if ir.spiking:
                for var, init in (("TSpike", -1.0e9), ("Spiked", 0), ("Count", 0.0), ("RingPos", 0), ("ReadPos", 0),
                                  ("Overflow", 0), ("BackSpike", 0)):
                    self._set_var(name, var, init)
            if name == d.readout_population:
                self._set_var(name, "Acc", 0.0)
                for var, init in self.ir.readout.model.genn_initial().items():
                    self._set_var(name, var, init)
        self.model.timestep = 0   # (the gradients were zeroed by the last batch reduction, or at load)

    def _read(self, pop: str, var: str) -> np.ndarray:
        v = self.pops[pop].vars[var]
        v.pull_from_device()
        return np.array(v.view).reshape(self.batch_size, -1)

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
                flags = self._read(p, "Overflow")[:count]
                if (flags == 2).any():   # codegen/genn.py, bracket_lines: the search's loop bound was reached
                    b, i = np.argwhere(flags == 2)[0]
                    raise UserError(
                        f"neuron {i} of population '{p}' in trial {first + b} of the batch: the threshold-crossing "
                        "search did not finish within its bounded number of pieces (a threshold function grazing 0 "
                        "over a long stretch of a step); use backend: native, or please report it")
                if flags.any():
                    b, i = np.argwhere(flags)[0]
                    raise SpikeBufferOverflow(
                        f"neuron {i} of population '{p}' fired more than max_spikes={self.max_spikes} spikes in trial "
                        f"{first + b} of the batch; raise train.max_spikes (e.g. --set train.max_spikes="
                        f"{2 * self.max_spikes}) or lower the activity")
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

    # -- Adam on the device (backends/device_adam.py) ------------------------------------------------
    def device_optimiser(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        """An optimiser whose weight updates run here as GeNN custom updates (AdamStep); from then on, a batch
        run in one go leaves its weight gradients on the device instead of returning them."""
        from genn_eventprop.backends.device_adam import DeviceAdam
        if not self.device_adam_built:
            raise ConfigError("this GeNN backend was built for Adam on the host (GeNNBackend(..., device_adam=False)); "
                              "create it with device_adam=True, or set train.optimiser.on=device")
        self.device_adam = DeviceAdam(self, beta1, beta2, eps)
        return self.device_adam

    def _push_weights(self, connection: str, values):
        for name in self.groups_of[connection]:
            self._push(self.groups[name].vars["g"], values)

    def adam_step(self, weights: Dict[str, np.ndarray], grads: Dict[str, np.ndarray], lr: float, beta1: float,
                  beta2: float, eps: float, c1: float, c2: float):
        """One Adam step of every connection's weights on the device, from the gradients the last batch left
        there, or from grads where given (computed on the host); then the device holds the newest weights."""
        if set(weights) != set(self.groups_of):
            raise ValueError(f"Adam on the device steps every connection at once: got {sorted(weights)}, "
                             f"need {sorted(self.groups_of)}")
        if self.model is None:
            raise UserError("Adam on the device needs the gradients of a batch: run one first")
        for c, arr in weights.items():
            if c in grads:
                for name in self.groups_of[c]:
                    self._push(self.reducers[name].vars["Reduced"], np.asarray(grads[c], dtype=self.dtype))
            elif not self._fresh_gradients:
                raise ValueError(f"no gradient of {c} on the device: the last batch did not compute one in one go")
            if self._resident.get(c) is not arr:
                self._push_weights(c, arr)
        values = {"LR": lr, "Beta1": beta1, "Beta2": beta2, "Eps": eps, "C1": c1, "C2": c2}
        for adam in self.adam.values():
            for p, v in values.items():
                adam.set_dynamic_param_value(p, float(v))
        self.model.custom_update("AdamStep")
        self._resident.update(weights)
        self._fresh_gradients = False

    def pull_weights(self, weights: Dict[str, np.ndarray]):
        """Copy the device's newest values into the host arrays it has moved on from (in place)."""
        for c, arr in weights.items():
            if self._resident.get(c) is arr and self.model is not None:
                v = self.groups[self.groups_of[c][0]].vars["g"]
                v.pull_from_device()
                arr[...] = np.reshape(v.view, arr.shape)

    def adam_moments(self) -> Dict[str, tuple]:
        """{connection: (m, v)} of the device's Adam, float64 arrays of the weights' shape."""
        if self.model is None:
            return dict(self._pending_moments)
        shapes, out = self.network.weight_shapes(), {}
        for c, names in self.groups_of.items():
            adam = self.adam[names[0]]
            for var in ("M", "V"):
                adam.vars[var].pull_from_device()
            out[c] = tuple(np.array(adam.vars[var].view, dtype=np.float64).reshape(shapes[c]) for var in ("M", "V"))
        return out

    def set_adam_moments(self, moments: Dict[str, tuple]):
        """Load {connection: (m, v)} into every group's Adam (zeros for a connection not named)."""
        self._pending_moments = {c: (np.array(m, dtype=np.float64), np.array(v, dtype=np.float64))
                                 for c, (m, v) in moments.items()}
        if self.model is not None:
            self._load_moments()

    def _load_moments(self):
        if not self.device_adam_built:
            return
        for c, names in self.groups_of.items():
            m, v = self._pending_moments.get(c, (0.0, 0.0))
            for name in names:
                self._push(self.adam[name].vars["M"], m)
                self._push(self.adam[name].vars["V"], v)

    def _stash_device_state(self):
        """Before the device's variables start afresh (a rebuild, a reload): the newest weights to the host
        arrays, the moments to the host, to be loaded again."""
        if self.model is None or self.device_adam is None:
            return
        self.pull_weights(dict(self._resident))
        self._pending_moments = self.adam_moments()
        self._resident.clear()
        self._fresh_gradients = False

    def _spike_times(self, pop: str, slot: int = 0):
        """(times, neurons) of the trial in batch slot `slot` of the last launch, from the ring of exact spike
        times, in time order."""
        g = self.pops[pop]
        ring = g.extra_global_params["SpikeRing"]
        ring.pull_from_device()
        n = self.ir.populations[pop].size
        pos = self._read(pop, "RingPos")[slot]
        times = np.array(ring.view).reshape(self.batch_size, n, self.max_spikes)[slot]
        t = np.concatenate([times[i, :pos[i]] for i in range(n)]) if n else np.zeros(0)
        i = np.concatenate([np.full(pos[i], i) for i in range(n)]) if n else np.zeros(0, int)
        order = np.argsort(t, kind="stable")
        return t[order].astype(np.float64), i[order].astype(np.int32)


def pygenn_version() -> str:
    return pygenn.__version__

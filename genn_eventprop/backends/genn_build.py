"""Building the GeNN model of a GeNNBackend (backends/genn.py): its populations, synapse groups and custom updates
from the definitions of codegen/genn.py, GeNN's build (skipped when nothing changed) and load, and the dynamic
parameters pushed to it."""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from genn_eventprop.backends.base import BuildStatus
from genn_eventprop.backends.genn_preferences import genn_preferences
from genn_eventprop.backends.genn_pygenn import (BACKENDS, GeNNModel, create_wu_var_ref, init_postsynaptic,
                                                 init_weight_update, library_version, pygenn_model)
from genn_eventprop.codegen.genn import ADAM_STEP, GRADIENT_REDUCE


class ModelBuilding:
    """The building part of GeNNBackend: the model is built at the first batch (or generate), for that batch's dt,
    and again for a new dt."""

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
                g = model.add_neuron_population(pop.name, pop.size, pygenn_model(m), {p: 0 for p in m.params},
                                                {n: 0 for n, _, _ in m.vars})
                for p in m.params:
                    g.set_param_dynamic(p)
                g.extra_global_params["SpikeTimes"].set_init_values(np.zeros(self.input_capacity, dtype=self.dtype))
            else:
                ir = self.ir.populations[pop.name]
                params = {p: 0.0 for p in m.params}
                vars_ = {n: 0.0 for n, _, _ in m.vars}
                g = model.add_neuron_population(pop.name, pop.size, pygenn_model(m), params, vars_)
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
                init_weight_update(pygenn_model(wu), {p: 0.0 for p in wu.params},
                                   {"g": np.zeros(shape[0] * shape[1]), **({"Gradient": 0.0} if sg_def.learns else {})},
                                   pre_var_refs={n: n[:-len("_pre")] for n, _ in wu.pre_neuron_var_refs},
                                   post_var_refs=dict(sg_def.post_var_refs)),
                init_postsynaptic(pygenn_model(psm)))
            sg.post_target_var = sg_def.target_var
            if sg_def.error_target:
                sg.pre_target_var = sg_def.error_target
            for p in wu.params:
                sg.set_wu_param_dynamic(p)
            self.groups[sg_def.name] = sg
            if not sg_def.learns:
                continue
            # dL/dw of the group's copy of the weights, reduced over the batch; with Adam on the device, its step
            reducer = model.add_custom_update(f"{sg_def.name}_reduce", "GradientReduce", pygenn_model(GRADIENT_REDUCE), {},
                                              {"Reduced": 0.0}, {"Gradient": create_wu_var_ref(sg, "Gradient")})
            self.reducers[sg_def.name] = reducer
            if not self.device_adam_built:
                continue
            adam = model.add_custom_update(f"{sg_def.name}_adam", "AdamStep", pygenn_model(ADAM_STEP),
                                           {p: 1.0 for p in ADAM_STEP.params}, {"M": 0.0, "V": 0.0},
                                           {"Gradient": create_wu_var_ref(reducer, "Reduced"),
                                            "Weight": create_wu_var_ref(sg, "g")})
            for p in ADAM_STEP.params:
                adam.set_param_dynamic(p)
            self.adam[sg_def.name] = adam
        os.makedirs(self.cache_dir, exist_ok=True)
        code_dir = os.path.join(self.cache_dir, f"{self._model_name(dt)}_CODE")
        before = library_version(code_dir)
        model.build(path_to_model=self.cache_dir)
        compiled = before is None or library_version(code_dir) != before
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
                    key = p if p.startswith("readout_") else self.parameters.code_name(name, p)   # readout_*: code names
                    g.set_dynamic_param_value(p, float(np.asarray(self.params[key])))
            for p in d.per_neuron[name]:
                g.vars[p].view[...] = np.broadcast_to(np.asarray(self.params[self.parameters.code_name(name, p)], dtype=self.dtype),
                                                      g.vars[p].view.shape)
                g.vars[p].push_to_device()
        for sg_def in d.synapse_groups:
            for p, source in sg_def.param_values.items():
                self.groups[sg_def.name].set_dynamic_param_value(p, float(self.params[self.parameters.code_name(sg_def.post, source)]))

    def _ensure_built(self, dt: float):
        if self.model is None or dt != self._dt:
            self._build(dt)

    def generate(self, dt: float) -> str:
        """Build the model for time step dt; returns the folder of GeNN's generated source."""
        self._ensure_built(dt)
        return os.path.join(self.cache_dir, f"{self._model_name(dt)}_CODE")

"""The trials of a GeNNBackend (backends/genn.py) on the device: every state reset and the input spikes of a batch
loaded, and what the trials leave read back (variables, the spike-search flags, the rings of exact spike times)."""
from __future__ import annotations

import numpy as np

from genn_eventprop.backends.genn_pygenn import push
from genn_eventprop.errors import SpikeBufferOverflow, UserError


class TrialIO:
    """Loading and reading trials: the part of GeNNBackend between building and the batch loop."""

    def _set_var(self, pop: str, var: str, values):
        push(self.pops[pop].vars[var], values)

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

    def _check_spike_search(self, pop: str, first: int, count: int):
        """Stop with one line where a neuron of pop overflowed its spike ring, or its crossing search its loop bound."""
        flags = self._read(pop, "Overflow")[:count]
        if (flags == 2).any():   # codegen/genn_crossing.py: the search's loop bound was reached
            b, i = np.argwhere(flags == 2)[0]
            raise UserError(
                f"neuron {i} of population '{pop}' in trial {first + b} of the batch: the threshold-crossing "
                "search did not finish within its bounded number of pieces (a threshold function grazing 0 "
                "over a long stretch of a step); use backend: native, or please report it")
        if flags.any():
            b, i = np.argwhere(flags)[0]
            raise SpikeBufferOverflow(
                f"neuron {i} of population '{pop}' fired more than max_spikes={self.max_spikes} spikes in trial "
                f"{first + b} of the batch; raise train.max_spikes (e.g. --set train.max_spikes="
                f"{2 * self.max_spikes}) or lower the activity")

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

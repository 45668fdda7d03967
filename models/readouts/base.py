"""The Readout base class: how the output neurons become class scores z, the loss on them, and the code of both.

A readout is one class in one file of this folder. The generators (the native ones, codegen/cpp_*.py,
and codegen/genn*.py) and the GeNN backend never look at a readout's name: they call the methods below, whose
defaults add nothing, so a class writes only the parts its readout has. Defining a subclass with a `name`
registers it (config/model_sections.py takes its name and its CONFIG parameters from the registry).
docs/readouts.md is the checklist for adding one.

Native code (C++, the bodies of forward(), backward() and gep_run(): codegen/cpp_forward.py, cpp_backward.py,
cpp_exact.py, cpp_next_step.py, runtime/gep_run.cpp.tmpl) sees: o, the output
population's name (o_N neurons); the workspace ws (ws.acc[j] holds z_j at the end of the forward pass,
ws.dLdz[j] dL/dz_j scaled by loss_scale, ws.drive[j] the adjoint flow drive of the step); the step k with
t0, t1, wbar = w((k + 1/2) dt), T; the Sample S (S.label, S.n_steps); the parameters P (P.readout_<name>).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

_REGISTRY: Dict[str, type] = {}


@dataclass(frozen=True)
class Param:
    """A readout parameter as the config takes it (model.output.<readout>.<name>): its default (None: optional, the
    readout then picks a value from the trial) and its bounds."""

    default: Optional[float]
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False


class Readout:
    """One readout kind. Class attributes a subclass sets: name (the config name; registers the class), order (its
    place in listings), CONFIG (its config parameters), spiking_outputs (True: the outputs spike, e.g. first_spike),
    genn (True: the GeNN emission has it)."""

    name: str = ""
    order: int = 1000
    CONFIG: Dict[str, Param] = {}
    spiking_outputs = False
    genn = False
    weighting = "1"          # w(t), in t, T and the parameters: the integral readouts' weight of each step

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            if cls.name in _REGISTRY and _REGISTRY[cls.name].__qualname__ != cls.__qualname__:
                raise ValueError(f"two readouts are called {cls.name!r}: {_REGISTRY[cls.name]} and {cls}")
            _REGISTRY[cls.name] = cls

    @classmethod
    def from_config(cls, values: Optional[dict] = None) -> "Readout":
        """The readout with the values of its config section (model.output.<name>)."""
        return cls(**(values or {}))

    @property
    def params(self) -> Dict[str, float]:
        """Runtime parameters (readout_<name> in the generated code); a change does not rebuild."""
        return {}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def __eq__(self, other):
        return type(self) is type(other) and (self.name, self.weighting, self.params) == \
            (other.name, other.weighting, other.params)

    # -- the loss on the host (numpy): scores [trial, class] (the per-step values for avg_xentropy) --------------
    def loss(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The loss of each trial: the softmax cross-entropy of z."""
        zmax = z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
        return log_sum - z[np.arange(len(z)), labels]

    def dloss(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """dL/dz of each trial's loss: softmax(z) - onehot(label)."""
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return p - np.eye(z.shape[1])[labels]

    # -- native C++ (codegen/cpp_*.py): lines with their indentation, or a statement -----------------------------
    def native_workspace(self, o: str) -> List[str]:
        """Fields of the per-thread Workspace beyond acc, dLdz, drive, argmax, pcoef, ce_sum, first_t and dLdt."""
        return []

    def native_forward_start(self, o: str) -> List[str]:
        """forward(), before the first step: the readout's own state."""
        return []

    def native_free_step(self, o: str) -> List[str]:
        """forward(), each step, before the output population's free advance over the step from ws.o_x."""
        return []

    def native_jump_gain(self, o: str) -> Optional[str]:
        """forward(), exact delivery: what a jump into output neuron j adds to its score, given the jump's
        response r (r[o_VARS] = d . integral of it to t1) and the weight wrow[j]; None: nothing."""
        return None

    def native_sample(self, o: str, state: str) -> List[str]:
        """forward(), at each step end k: a readout of the sampled values o_readout_value(P, ws.o_<state>, j)."""
        return []

    def native_output_spike(self, t: str, indent: str) -> List[str]:
        """forward(), a spike of output neuron i at time t (spiking outputs)."""
        return []

    def native_forward_end(self, o: str) -> List[str]:
        """forward(), after the last step: the scores ws.acc."""
        return []

    def native_scores(self, o: str) -> List[str]:
        """gep_run(), after the forward pass of trial s: the scores ws.acc, before the softmax."""
        return []

    def native_loss(self) -> str:
        """gep_run(): loss_out[s], given zmax and zsum = sum_c exp(z_c - zmax)."""
        return "            loss_out[s] = std::log(zsum) + zmax - ws.acc[S.label];"

    def native_loss_terms(self, o: str) -> List[str]:
        """gep_run(), after dL/dz: further terms of the loss and their gradients."""
        return []

    def native_backward_start(self, o: str) -> List[str]:
        """backward(), before the last step: what the loss gives the adjoints at T."""
        return []

    def native_step_drive(self, o: str) -> List[str]:
        """backward(), each step: ws.drive, the drive c of the output adjoints over the step (dlambda/dt -= c d)."""
        return ["        (void)wbar; std::fill(ws.drive.begin(), ws.drive.end(), 0.0);   // no flow drive"]

    def native_impulse(self, o: str, drive) -> List[str]:
        """backward(), at each step end: the adjoint impulse of a sampled readout, along drive = d(readout)/dx."""
        return []

    def native_spike_error(self) -> List[str]:
        """backward(), an own spike of output neuron i at ev.t: what the loss adds to its E = dL/dt_s."""
        return []

    # -- GeNN (codegen/genn_neuron.py, backends/genn.py, genn_trials.py) ----------------------------------------
    def genn_vars(self) -> List[Tuple[str, str, str]]:
        """Neuron variables of the output population beyond Acc (the score) and DLdz."""
        return []

    def genn_initial(self) -> Dict[str, float]:
        """Their values at the start of a trial."""
        return {}

    def genn_forward(self, em, x0) -> List[str]:
        """The output population's sim code, forward, after x1_<v> = the state at t + dt from x0_<v> at t
        (em: the NeuronEmitter, with pop, adj, x, readout)."""
        return []

    def genn_backward(self, em) -> Tuple[List[str], Optional[object]]:
        """The output population's sim code, backward: lines that change l1_<v> = lambda(t0 + dt), and the drive
        c d(readout)/dx over the step (sympy, in c), or None."""
        return [], None

    def genn_scores(self, acc: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """z from the Acc variable of each trial [trial, class], trial lengths T (ms)."""
        return acc


def registry() -> Dict[str, type]:
    """The readouts, config name -> class, in their listing order."""
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))

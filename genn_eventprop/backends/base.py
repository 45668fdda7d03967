"""The backend interface: what every backend (native C++, GeNN) offers and shares.

Backend is the base class of NativeBackend (backends/native.py) and GeNNBackend (backends/genn.py). Callers
(train, evaluate, gradcheck, search, learnable parameters) use only what is written here; they never probe a
backend for what it has. The contract:

* Construction: Backend(network, precision, max_spikes) checks the precision, builds the IR of network and
  derives its adjoint (eventprop.derive); a subclass then emits its code. Whether and when it compiles is the
  subclass's business (native: at construction; GeNN: at the first batch, for that batch's dt); build_status
  says what happened, at any time.
* Parameters: params maps every runtime parameter key ("population_name", "readout_name") to its value, a
  float or, for a per-neuron parameter, an array with one value per neuron. per_neuron and learnable map the
  labels "population.name" to those keys. set_params(values) changes them without a rebuild; an unknown key is
  a ConfigError. singular_pairs() names the pairs of keys whose equality makes the exact update singular.
* set_regularisation(population, ...): the spike-count regulariser of one spiking population (README,
  "Published settings", for the two conventions); a backend refuses, with a ConfigError, what it cannot run.
* run_batch(weights, batch, dt, compute_gradients, loss_scale, record) -> BatchResult: the forward pass of
  every trial of batch (data/batch.py: spikes, labels, trial lengths), its loss (the readout's loss, averaged
  over the batch unless loss_scale is given) and, with compute_gradients, dL/dw of every connection and dL/dp of
  every learnable parameter. Every trial runs trial_steps(durations, dt) steps of the time grid. Weights must
  have each connection's [pre, post] shape (checked_weights); spikes on a channel beyond the input population
  and labels beyond the outputs are a UserError (check_batch). A spike buffer overflow is a
  SpikeBufferOverflow naming train.max_spikes.
* source: the generated C++ a run folder keeps as code/network.cpp, or None where the backend has none.
* device_optimiser(...): an optimiser that steps the weights on the device; a ConfigError where the backend
  has no device.

The shared parts live here once: the trial steps, the checks of weights and batches and the singular parameter
pairs. A backend whose readout scores come back to the host takes the loss and dL/dz from the readout
(models/readouts: Readout.loss, Readout.dloss).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from genn_eventprop.data.trials import trial_steps
from genn_eventprop.errors import ConfigError, UserError
from genn_eventprop.eventprop import derive
from genn_eventprop.ir import build_ir
from genn_eventprop.network import DELAY, Network
from genn_eventprop.parameters import ParameterTable

PRECISIONS = ("float32", "float64")


@dataclass
class BatchResult:
    losses: np.ndarray                  # per trial
    z: np.ndarray                       # readout scores, [trial, class]
    grads: Optional[Dict[str, np.ndarray]]   # dL/dw of the batch-mean loss, per connection [pre, post]
    spike_counts: Dict[str, np.ndarray]  # per population, spikes per trial
    recorded: Optional[Dict[str, tuple]] = None   # record=True: population -> (times ms, neuron) of trial 0
    param_grads: Optional[Dict[str, object]] = None   # dL/dp of each learnable parameter ("population.name"):
    #                                                     a float, or an array with one per neuron when per-neuron

    @property
    def loss(self) -> float:
        return float(self.losses.mean())

    @property
    def predictions(self) -> np.ndarray:
        return self.z.argmax(axis=1)


@dataclass(frozen=True)
class BuildStatus:
    """What building the backend's code did: state "not built" (not yet), "compiled" (compiled now) or
    "cached" (a build of the same code was reused); seconds spent; path of the build (library or folder)."""
    state: str = "not built"
    seconds: float = 0.0
    path: Optional[str] = None

    @property
    def built(self) -> bool:
        return self.state != "not built"

    @property
    def compiled(self) -> bool:
        return self.state == "compiled"

    @property
    def cached(self) -> bool:
        return self.state == "cached"


def checked_weights(network: Network, weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Each connection's weights as an array of its [pre, post] shape; a wrong shape is one clear error."""
    out = {}
    for c in network.connections:
        shape = network.weight_shapes()[c.name]
        arr = np.asarray(weights[c.name])
        if arr.shape != shape:
            raise ConfigError(f"weights of {c.name} have shape {arr.shape}, expected {shape}")
        out[c.name] = arr
    return out


class Backend(abc.ABC):
    """Runs batches of trials (forward, loss, backward) of one network; the contract is the module docstring."""

    name: str = "backend"
    delivery: str = "exact"   # when a spike reaches its targets (config key delivery)

    trial_steps = staticmethod(trial_steps)

    def __init__(self, network: Network, precision: str = "float32", max_spikes: int = 1500):
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be float32 or float64, got {precision!r}")
        self.network = network
        self.precision = precision
        self.dtype = np.float32 if precision == "float32" else np.float64
        self.max_spikes = int(max_spikes)
        self.ir = build_ir(network)
        self.adjoint = derive(self.ir)
        self.parameters = ParameterTable(self.ir, self.adjoint)   # every runtime parameter, named once
        self.params: Dict[str, object] = self.parameters.values()   # by code name: a float, or per neuron an array
        # label "population.name" -> code name: per-neuron parameters (until set, every neuron has the model's
        # value) and learnable ones
        self.per_neuron = self.parameters.code_names(self.parameters.per_neuron)
        self.learnable = self.parameters.code_names(self.parameters.learnable)

    @property
    def delay_key(self) -> Optional[str]:
        """The code name of the input's delays ("input_delay"), or None where the input has none (docs/delays.md)."""
        inp = self.network.input_population
        return self.parameters.code_name(inp.name, DELAY) if inp.delay is not None else None

    # -- what every backend implements -------------------------------------------------------------
    @property
    @abc.abstractmethod
    def build_status(self) -> BuildStatus:
        """What building this backend's code has done so far."""

    @abc.abstractmethod
    def set_params(self, values: Dict[str, object]):
        """New parameter values: floats, or for a per-neuron parameter an array of one per neuron."""

    @abc.abstractmethod
    def set_regularisation(self, population: str, lambda_upper=0.0, nu_upper=0.0, lambda_lower=0.0, nu_lower=0.0,
                           convention: str = "tool", scale: float = 1.0):
        """The spike-count regulariser of one spiking population."""

    @abc.abstractmethod
    def run_batch(self, weights: Dict[str, np.ndarray], batch, dt: float, compute_gradients: bool = True,
                  loss_scale: Optional[float] = None, record: bool = False) -> BatchResult:
        """Forward (and backward) pass of every trial in batch (the module docstring)."""

    # -- shared --------------------------------------------------------------------------------------
    @property
    def source(self) -> Optional[str]:
        """The generated C++ a run folder keeps (code/network.cpp); None for a backend without one."""
        return None

    def singular_pairs(self):
        return self.parameters.singular_pairs

    def check_param_names(self, values: Dict[str, object]):
        unknown = set(values) - set(self.params)
        if unknown:
            raise ConfigError(f"unknown model parameters {sorted(unknown)}; known: {sorted(self.params)}")

    def checked_weights(self, weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return checked_weights(self.network, weights)

    def check_channels(self, units: np.ndarray):
        """Input spikes must name channels of the input population."""
        n_in = self.network.input_population.size
        if units.size and (units.min() < 0 or units.max() >= n_in):
            raise UserError(f"input spikes name channel {int(units.max())}, but the input population has {n_in} "
                            "channels; set the input size to the data's number of channels")

    def check_labels(self, labels: np.ndarray):
        """Labels must name output neurons."""
        n_out = self.network.population(self.network.readout_population).size
        if labels.size and (labels.min() < 0 or labels.max() >= n_out):
            raise UserError(f"label {int(labels.max())} does not fit the {n_out} output neurons")

    def device_optimiser(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        raise ConfigError(f"train.optimiser.on=device runs Adam as a GeNN custom update, but backend {self.name} "
                          "has no device; use train.optimiser.on=host (or auto)")

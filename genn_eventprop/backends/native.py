"""The native backend: the emitted C++ compiled with the system compiler, loaded with ctypes.

Builds are cached by a hash of the source, the compiler and the flags, so an unchanged model is never
compiled twice; model parameters (time constants, thresholds, regularisation) are runtime inputs and
can change between calls without a rebuild.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import sympy as sp

from genn_eventprop.backends.base import BatchResult, Backend, BuildStatus
from genn_eventprop.codegen.cpp import EmittedProgram, emit_cpp
from genn_eventprop.delays import arrivals
from genn_eventprop.errors import ConfigError, SpikeBufferOverflow, UserError
from genn_eventprop.files import atomic_output, atomic_write_text
from genn_eventprop.parameters import propagator_denominators
from genn_eventprop.integrate import tau as tau_symbol
from genn_eventprop.network import Network

CXX_FLAGS = ["-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread"]
# GENN_EVENTPROP_CXXFLAGS replaces the optimisation and target flags above ("-O3 -march=native"), e.g. "-O1" for
# quicker builds (the test suite) or "-O2 -ffp-contract=off" for results that do not depend on the CPU (the
# bit-identical training check); the language and linking flags always stay. Part of the build's cache key.
OPTIMISATION_FLAGS = ("-O3", "-march=native")


def compile_flags() -> list:
    """The compiler flags of a native build: CXX_FLAGS, or with GENN_EVENTPROP_CXXFLAGS as its optimisation part."""
    chosen = os.environ.get("GENN_EVENTPROP_CXXFLAGS")
    if chosen is None or not chosen.strip():
        return list(CXX_FLAGS)
    return chosen.split() + [f for f in CXX_FLAGS if f not in OPTIMISATION_FLAGS]


def default_cache_dir() -> str:
    root = os.environ.get("GENN_EVENTPROP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "genn_eventprop")
    return os.path.join(root, "native")


def find_compiler() -> str:
    for cand in [os.environ.get("CXX"), "c++", "g++", "clang++"]:
        if cand and shutil.which(cand):
            return shutil.which(cand)
    raise UserError("no C++ compiler found for the native backend: install g++ (e.g. apt-get install g++) "
                    "or set CXX to a compiler")


def _compiler_identity(cxx: str) -> str:
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):   # -march=native: a build is only valid on the same kind of CPU
        with open("/proc/cpuinfo") as f:
            cpu = next((line for line in f if line.startswith("flags")), "")
    return "\n".join([cxx, *version, platform.machine(), cpu])


@dataclass
class BuildInfo:
    path: str
    cached: bool
    seconds: float


def build_shared_library(source: str, cache_dir: Optional[str] = None, defines: Sequence[str] = ()) -> BuildInfo:
    """Compile source into a shared library, or reuse the cached build of identical input.
    defines: preprocessor names to define (-D), e.g. GEP_PROFILE; part of the cache key."""
    start = time.perf_counter()
    cxx = find_compiler()
    flags = compile_flags() + [f"-D{d}" for d in defines]
    key = hashlib.sha256("\n".join([source, _compiler_identity(cxx), *flags]).encode()).hexdigest()[:24]
    cache_dir = cache_dir or default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    lib_path = os.path.join(cache_dir, f"gep_{key}.so")
    if os.path.exists(lib_path):
        return BuildInfo(lib_path, True, time.perf_counter() - start)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        src = os.path.join(tmp, "network.cpp")
        with open(src, "w") as f:   # the compiler's input, removed with the folder
            f.write(source)
        with atomic_output(lib_path) as out:   # a concurrent build of the same key is harmless
            proc = subprocess.run([cxx, *flags, src, "-o", out], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"the generated C++ did not compile (a bug in genn-eventprop; please report "
                                   f"it):\n{proc.stderr[-4000:]}")
    atomic_write_text(os.path.join(cache_dir, f"gep_{key}.cpp"), source)
    return BuildInfo(lib_path, False, time.perf_counter() - start)


# The timed blocks of runtime/profile.h (enum ProfileBlock), in its order.
PROFILE_BLOCKS = ("free_step", "input", "search", "commit", "adjoint_step", "input_grad", "spike_grad", "trial", "reduce")

_DBL = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
_I32 = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
_I64 = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")


class NativeBackend(Backend):
    """Runs batches of trials (forward, loss, backward) of one network through generated C++ (the interface:
    backends/base.py). The library is compiled, or taken from the cache, at construction."""

    name = "native"

    def __init__(self, network: Network, precision: str = "float32", threads: int = 0, max_spikes: int = 1500,
                 cache_dir: Optional[str] = None, delivery: str = "exact", profile: bool = False):
        """profile: build with the block timers of runtime/profile.h (profile_seconds() reads them); the same
        source, compiled with -DGEP_PROFILE."""
        super().__init__(network, precision, max_spikes)
        self.threads = threads or os.cpu_count() or 1
        self.delivery = delivery   # exact | next_step (the timing model of the GeNN backends; codegen/cpp_next_step.py)
        self.program: EmittedProgram = emit_cpp(self.ir, self.adjoint, precision, delivery)
        self.build = build_shared_library(self.program.source, cache_dir, ("GEP_PROFILE",) if profile else ())
        self._lib = ctypes.CDLL(self.build.path)
        fn = self._lib.gep_run
        W = np.ctypeslib.ndpointer(self.dtype, flags="C_CONTIGUOUS")
        fn.argtypes = [ctypes.c_int, _DBL, _I32, _I64, _I64, _I32, _DBL, _DBL, ctypes.c_double, ctypes.c_double,
                       ctypes.c_int, ctypes.c_int, ctypes.c_int, W, _DBL, _DBL, _DBL, _DBL, _I64, _I64,
                       _DBL, _I32, _I32, ctypes.c_longlong, _I64]
        fn.restype = ctypes.c_int
        self._run = fn
        self._profile = self._lib.gep_profile
        self._profile.argtypes = [np.ctypeslib.ndpointer(np.uint64, flags="C_CONTIGUOUS"), ctypes.c_int,
                                  ctypes.POINTER(ctypes.c_double)]
        self._profile.restype = ctypes.c_int
        self.regularisation = {p: (0.0, 0.0, 0.0, 0.0, 0.0, 1.0) for p in self.program.spiking}
        self._denominators = self._singular_denominators()

    @property
    def source(self) -> str:
        return self.program.source

    def profile_seconds(self, reset: bool = True) -> Dict[str, float]:
        """CPU seconds (summed over threads) in each timed block of the native code since the last reset
        (runtime/profile.h, PROFILE_BLOCKS); empty unless built with profile=True."""
        ticks = np.zeros(len(PROFILE_BLOCKS), dtype=np.uint64)
        rate = ctypes.c_double(0.0)
        n = self._profile(ticks, int(reset), ctypes.byref(rate))
        if n == 0:
            return {}
        if n != len(PROFILE_BLOCKS):
            raise RuntimeError(f"the native library has {n} profile blocks, this module knows {len(PROFILE_BLOCKS)}")
        return {name: float(t) / rate.value for name, t in zip(PROFILE_BLOCKS, ticks)}

    @property
    def build_status(self) -> BuildStatus:
        return BuildStatus("cached" if self.build.cached else "compiled", self.build.seconds, self.build.path)

    def set_params(self, values: Dict[str, object]):
        """New parameter values: floats, or for a per-neuron parameter an array of one per neuron."""
        self.check_param_names(values)
        sizes = self.program.param_sizes
        for k, v in values.items():
            if np.ndim(v) == 0:
                self.params[k] = float(v)
            elif sizes.get(k, 1) > 1 and np.shape(v) == (sizes[k],):
                self.params[k] = np.array(v, dtype=np.float64)
            else:
                raise ConfigError(f"parameter {k} takes {'one value or ' if sizes.get(k, 1) > 1 else ''}"
                                  f"{sizes.get(k, 1)} value(s), got shape {np.shape(v)}")

    def _param_array(self) -> np.ndarray:
        """params[] as the generated code reads it: each parameter's values in turn (a per-neuron one broadcast)."""
        sizes = self.program.param_sizes
        return np.concatenate([np.broadcast_to(np.asarray(self.params[n], dtype=np.float64), (sizes[n],))
                               for n in self.program.param_names])

    def set_regularisation(self, population: str, lambda_upper=0.0, nu_upper=0.0, lambda_lower=0.0, nu_lower=0.0,
                           convention: str = "tool", scale: float = 1.0):
        """convention tool: per trial, one-sided terms (upper above nu_upper, lower below nu_lower), per unit of our
        adjoint. published (mlGeNN's reg_lambda_upper/lower, reg_nu_upper): batch counts, two-sided around nu_upper,
        in mlGeNN's units; scale converts them to ours (tau_mem^2 for a LIF neuron: their adjoint is ours / -tau_mem^2)."""
        if population not in self.regularisation:
            raise ConfigError(f"no spiking population {population!r} to regularise; have {self.program.spiking}")
        if convention not in ("tool", "published"):
            raise ConfigError(f"regularisation convention must be tool or published, got {convention!r}")
        self.regularisation[population] = (lambda_upper, nu_upper, lambda_lower, nu_lower,
                                           1.0 if convention == "published" else 0.0, float(scale))

    def _singular_denominators(self):
        """Per population: its propagator's denominators, compiled to numpy (checked on every new parameter set)."""
        return [(pop, symbols, dens, sp.lambdify([*symbols, tau_symbol], dens, "numpy"))
                for pop, symbols, dens in propagator_denominators(self.ir, self.adjoint)]

    def _check_params(self, dt: float, params: np.ndarray):
        """A propagator whose denominators vanish (e.g. tau_mem == tau_syn) would give inf or nan.
        Checked once per set of parameter values (params: the array _param_array made of them)."""
        key = (dt, params.tobytes())
        if key == getattr(self, "_checked", None):
            return
        for pop, symbols, dens, fn in self._denominators:
            values = [np.asarray(self.params[self.parameters.code_name(pop.name, s.name)]) for s in symbols]
            for den, d in zip(dens, fn(*values, dt)):
                small = np.abs(np.broadcast_to(d, np.broadcast(*values).shape)) < 1e-9
                if small.any():
                    j = np.unravel_index(int(np.argmax(small)), small.shape)
                    shown = {s.name: float(v[j] if v.ndim else v) for s, v in zip(symbols, values)}
                    where = f" (neuron {j[0]})" if small.ndim else ""
                    raise ConfigError(f"population {pop.name}{where}: parameters {shown} make the exact update "
                                      f"singular (denominator {den} = 0); e.g. tau_mem must differ from tau_syn")
        self._checked = key

    def run_batch(self, weights: Dict[str, np.ndarray], batch, dt: float, compute_gradients: bool = True,
                  loss_scale: Optional[float] = None, record: bool = False) -> BatchResult:
        """Forward (and backward) pass of every trial in batch.

        batch has times (ms, float64), units (int32), offsets (CSR over trials), labels and durations (ms).
        The loss is the mean over the batch unless loss_scale says otherwise; grads are its gradient.
        """
        prog = self.program
        n = len(batch.labels)
        params = self._param_array()
        self._check_params(dt, params)
        W = np.empty(prog.n_weights, dtype=self.dtype)
        for name, arr in self.checked_weights(weights).items():
            off = prog.weight_offsets[name]
            W[off:off + arr.size] = arr.ravel()
        times = np.ascontiguousarray(batch.times, dtype=np.float64)
        units = np.ascontiguousarray(batch.units, dtype=np.int32)
        self.check_channels(units)
        offsets = np.ascontiguousarray(batch.offsets, dtype=np.int64)
        labels = np.ascontiguousarray(batch.labels, dtype=np.int64)
        self.check_labels(labels)
        n_steps = np.ascontiguousarray(self.trial_steps(batch.durations, dt), dtype=np.int32)
        delay_key = self.delay_key
        if delay_key is not None:   # input delays: the spikes as they arrive (delays.py), in arrival order
            delays = np.broadcast_to(np.asarray(self.params[delay_key], dtype=np.float64), (self.network.input_population.size,))
            times, units, offsets = arrivals(times, units, offsets, delays, n_steps * float(dt))
        reg = np.array([v for p in prog.spiking for v in self.regularisation[p]] or [0.0], dtype=np.float64)
        grad = np.zeros(prog.n_weights, dtype=np.float64)
        pgrad = np.zeros(max(sum(prog.param_sizes[k] for k in prog.learn_names), 1), dtype=np.float64)
        losses = np.zeros(n, dtype=np.float64)
        z = np.zeros(n * prog.n_outputs, dtype=np.float64)
        spikes = np.zeros(n * len(prog.populations), dtype=np.int64)
        info = np.zeros(4, dtype=np.int64)
        scale = 1.0 / max(n, 1) if loss_scale is None else float(loss_scale)
        cap = self.max_spikes * sum(self.network.population(p).size for p in prog.spiking) if record else 0
        rec_t, rec_pop, rec_idx = np.zeros(max(cap, 1)), np.zeros(max(cap, 1), np.int32), np.zeros(max(cap, 1), np.int32)
        rec_n = np.zeros(1, dtype=np.int64)
        try:
            rc = self._run(n, times, units, offsets, labels, n_steps, params, reg, float(dt), scale, self.max_spikes,
                           int(self.threads), int(compute_gradients), W, grad, pgrad, losses, z, spikes, info,
                           rec_t, rec_pop, rec_idx, cap, rec_n)
        except ctypes.ArgumentError as err:
            # ctypes converts the arguments in Python (ndpointer.from_param) and wraps whatever is raised there,
            # a Ctrl-C included, in ArgumentError: give the interrupt back as itself
            if "KeyboardInterrupt" in str(err):
                raise KeyboardInterrupt from None
            raise
        if rc == 1:
            pop = prog.populations[int(info[0])]
            raise SpikeBufferOverflow(
                f"neuron {int(info[1])} of population '{pop}' fired more than max_spikes={self.max_spikes} spikes "
                f"in trial {int(info[2])} of the batch; raise train.max_spikes (e.g. --set train.max_spikes="
                f"{2 * self.max_spikes}) or lower the activity (regularisation, smaller input weights)")
        if rc != 0:
            raise RuntimeError(f"native backend failed with code {rc}")
        grads = None
        if compute_gradients:
            grads = {c.name: grad[prog.weight_offsets[c.name]:prog.weight_offsets[c.name] + int(np.prod(s))].reshape(s).copy()
                     for c, s in zip(self.network.connections, self.network.weight_shapes().values())}
        param_grads = None
        if compute_gradients:
            slot, k = {}, 0
            for name in prog.learn_names:
                slot[name] = k
                k += prog.param_sizes[name]
            param_grads = {}
            for label, key in self.learnable.items():
                size = prog.param_sizes[key]
                param_grads[label] = float(pgrad[slot[key]]) if size == 1 else pgrad[slot[key]:slot[key] + size].copy()
        counts = spikes.reshape(n, len(prog.populations))
        recorded = None
        if record:
            m = int(rec_n[0])
            recorded = {p: (rec_t[:m][rec_pop[:m] == k].copy(), rec_idx[:m][rec_pop[:m] == k].copy())
                        for k, p in enumerate(prog.populations)}
        return BatchResult(losses, z.reshape(n, prog.n_outputs), grads,
                           {p: counts[:, k].copy() for k, p in enumerate(prog.populations)}, recorded, param_grads)

"""pygenn itself: the import (one clear line where it is missing), the names of GeNN's backends, the pygenn model
objects made from codegen/genn.py's ModelDefs, and the small device-variable helpers the GeNN backend uses."""
from __future__ import annotations

import os

import numpy as np

from genn_eventprop.codegen.genn import ModelDef
from genn_eventprop.errors import UserError

try:
    import pygenn
    from pygenn import (CustomUpdateVarAccess, GeNNModel, VarAccess, VarAccessMode, create_custom_update_model,
                        create_neuron_model, create_postsynaptic_model, create_weight_update_model,
                        create_wu_var_ref, init_postsynaptic, init_weight_update)
except ImportError as err:   # the backends module is imported only when a GeNN backend is asked for
    raise UserError("the GeNN backends need pygenn (GeNN 5), which is not installed here; docs/genn.md says how "
                    "to install it, or use backend: native") from err

# the pygenn names the other GeNN backend modules use, imported from here
__all__ = ["BACKENDS", "CustomUpdateVarAccess", "GeNNModel", "VarAccess", "VarAccessMode", "create_wu_var_ref",
           "init_postsynaptic", "init_weight_update", "library_version", "push", "pygenn_model", "pygenn_version"]

BACKENDS = {"genn-cpu": "single_threaded_cpu", "genn-cuda": "cuda"}


def _access(name: str):
    return getattr(VarAccess, name)


_MODELS = {}   # pygenn model objects must outlive the GeNNModel that uses them (it keeps raw pointers)


def pygenn_model(m: ModelDef):
    """The pygenn model object of m, made once per definition."""
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


def library_version(code_dir: str):
    """The modification time (ns) of the library GeNN compiles from a model's code (None before the first
    build): GeNN leaves it alone when the model has not changed."""
    for name in ("librunner.so", "librunner.dylib", "runner.dll"):
        try:
            return os.stat(os.path.join(code_dir, name)).st_mtime_ns
        except OSError:
            pass
    return None


def push(v, values):
    """A pygenn variable set to values (a constant, or an array in any shape of the same size) on the device."""
    v.view[...] = np.reshape(values, v.view.shape) if np.ndim(values) else values
    v.push_to_device()


def pygenn_version() -> str:
    return pygenn.__version__

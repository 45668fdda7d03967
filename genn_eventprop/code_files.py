"""Config to code files: the generated code of a config's network, written as it runs (the `codegen` command).

No data is read: the network's sizes (input channels, classes) come from the config or are given
(data.load.sizes_without_data)."""
from __future__ import annotations

import os
from typing import List, Optional

from genn_eventprop.builder import build_network
from genn_eventprop.files import atomic_write_text
from genn_eventprop.network import Network


def write_code(cfg, out_dir: str, backend_kind: str = "native", channels: Optional[int] = None,
               classes: Optional[int] = None) -> List[str]:
    """Write the generated code for the config's network; returns the files written. channels (of the data,
    before delay lines) and classes: the network's sizes where the config does not fix them."""
    from genn_eventprop.data.load import input_channels, sizes_without_data
    channels, classes = sizes_without_data(cfg, channels, classes)
    network = build_network(cfg, input_channels(cfg, channels), classes)
    os.makedirs(out_dir, exist_ok=True)
    if backend_kind == "native":
        from genn_eventprop.codegen.cpp import emit_cpp
        from genn_eventprop.eventprop import derive
        from genn_eventprop.ir import build_ir
        ir = build_ir(network)
        program = emit_cpp(ir, derive(ir), cfg.precision, cfg.delivery)
        path = os.path.join(out_dir, "network.cpp")
        atomic_write_text(path, program.source)
        return [path]
    return write_genn_code(cfg, network, out_dir)


def write_genn_code(cfg, network: Network, out_dir: str) -> List[str]:
    """genn_models.txt: the GeNN model definitions (no pygenn needed); where pygenn is installed, also GeNN's
    own generated source (genn_source/) for backend genn-cuda, or genn-cpu where CUDA is not available."""
    from genn_eventprop.codegen.genn import emit_genn, render
    from genn_eventprop.eventprop import derive
    from genn_eventprop.ir import build_ir

    ir = build_ir(network)
    path = os.path.join(out_dir, "genn_models.txt")
    atomic_write_text(path, render(emit_genn(ir, derive(ir), cfg.precision)))
    written = [path]
    try:
        import pygenn  # noqa: F401
    except ImportError:
        return written
    import shutil
    from genn_eventprop.backends.available import pygenn_backend_names
    from genn_eventprop.backends.factory import genn_backend_module
    kind = "genn-cuda" if "cuda" in pygenn_backend_names() else "genn-cpu"
    backend = genn_backend_module("codegen --backend genn").GeNNBackend(
        network, kind=kind, precision=cfg.precision, max_spikes=cfg.train.max_spikes,
        batch_size=cfg.train.batch_size if kind == "genn-cuda" else 1, cache_dir=os.path.join(out_dir, "genn_build"))
    source = backend.generate(cfg.dt)
    target = os.path.join(out_dir, "genn_source")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return written + [target]

"""GeNN backend preferences for every model this tool builds, from the environment (no pygenn needed to read
them; the CUDA backend's enums are looked up only for genn-cuda)."""
from __future__ import annotations

import json
import os

from genn_eventprop.errors import UserError

PREFERENCES_VARIABLE = "GENN_EVENTPROP_GENN_PREFERENCES"


def genn_preferences(kind: str) -> dict:
    """GeNN backend preferences from the environment variable GENN_EVENTPROP_GENN_PREFERENCES (JSON), e.g.
    '{"device_select_method": "MANUAL", "block_size_select_method": "MANUAL"}' skips GeNN's CUDA occupancy
    optimiser, which compiles and loads trial kernels (docs/genn.md says when that is needed). Names of
    the backend's enums (DeviceSelect, BlockSizeSelect) are given as strings."""
    text = os.environ.get(PREFERENCES_VARIABLE, "").strip()
    if not text:
        return {}
    try:
        prefs = json.loads(text)
        if not isinstance(prefs, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise UserError(f"{PREFERENCES_VARIABLE} is not a JSON object of GeNN preferences ({err}); e.g. "
                        f"'{{\"block_size_select_method\": \"MANUAL\"}}'") from None
    if kind == "genn-cuda":
        from pygenn import cuda_backend
        enums = {"device_select_method": cuda_backend.DeviceSelect, "block_size_select_method": cuda_backend.BlockSizeSelect}
        for key, enum in enums.items():
            if isinstance(prefs.get(key), str):
                try:
                    prefs[key] = getattr(enum, prefs[key])
                except AttributeError:
                    raise UserError(f"{PREFERENCES_VARIABLE}: {key} must be one of "
                                    f"{', '.join(n for n in dir(enum) if n.isupper())}, not '{prefs[key]}'") from None
    return prefs

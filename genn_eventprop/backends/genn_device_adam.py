"""The GeNN backend's side of Adam on the device (backends/device_adam.py is the optimiser the trainer calls): the
AdamStep custom updates stepped with the gradients the last batch left on the device, the weights and moments
kept there between batches and brought back to the host when asked or before the device starts afresh."""
from __future__ import annotations

from typing import Dict

import numpy as np

from genn_eventprop.backends.genn_pygenn import push
from genn_eventprop.errors import ConfigError, UserError


class DeviceAdamSupport:
    """The Adam part of GeNNBackend (backends/genn.py)."""

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
            push(self.groups[name].vars["g"], values)

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
                    push(self.reducers[name].vars["Reduced"], np.asarray(grads[c], dtype=self.dtype))
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
                push(self.adam[name].vars["M"], m)
                push(self.adam[name].vars["V"], v)

    def _stash_device_state(self):
        """Before the device's variables start afresh (a rebuild, a reload): the newest weights to the host
        arrays, the moments to the host, to be loaded again."""
        if self.model is None or self.device_adam is None:
            return
        self.pull_weights(dict(self._resident))
        self._pending_moments = self.adam_moments()
        self._resident.clear()
        self._fresh_gradients = False

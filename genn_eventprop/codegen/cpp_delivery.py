"""The delivery models of the native C++: when a spike reaches its targets, as two strategies with one method set.

* exact (cpp_exact.py): at its own time. Targets react within the step, so the step's spikes are found one
  after another, earliest first, the spiking populations swept through the step's events (cpp_sweep.py).
* next_step (cpp_next_step.py): at the next grid point, as the jump it has grown into by then (the model GeNN
  runs). The neurons of a step are independent: each one's free trajectory is searched once.

The forward pass (cpp_forward.py) and the backward pass (cpp_backward.py) are the same for both; they call the
methods below at the points where the models differ, and read `within_step` where a block only exists when
targets react within the step (the readout's share of a jump, the bound of g a jump adds, later adjoint jumps
of the step). The per-population functions (cpp_population.py) and the readout (models/readouts/) are called
from here and from the passes alike.
"""
from __future__ import annotations

from typing import List, Optional


class Delivery:
    """One delivery model for a NativeNetwork (nw). Every method returns lines of C++ (forward(): indented for
    the step loop, backward(): for an event of the step)."""

    name = ""
    within_step = True   # a spike's effect reaches its targets within the step (at its own time)
    sweeps = False       # the spiking populations go through the step's events one by one (else: superposition)

    def __init__(self, nw):
        self.nw = nw

    # -- forward ------------------------------------------------------------------------------------------
    def workspace(self, p: str) -> List[str]:
        """Extra per-thread arrays of spiking population p."""
        return []

    def trial_start(self) -> List[str]:
        """After the trial's initial state is set, before the first step."""
        return []

    def trial_end(self) -> List[str]:
        """After the last step, before the readout's end of trial."""
        return []

    def step_start(self) -> List[str]:
        """At the step start t0, before the free flow."""
        return []

    def after_free_flow(self) -> List[str]:
        """After the free flow of the step and its bounds of g, before the input spikes."""
        return []

    def step_spikes(self) -> List[str]:
        """After the input spikes: the network's spikes of the step, each committed (spike_commit lines)."""
        raise NotImplementedError

    def step_end(self) -> List[str]:
        """After the step's state has become the next step's start."""
        return []

    # -- backward -----------------------------------------------------------------------------------------
    def backward_step_start(self, bw) -> List[str]:
        """At the step end t1, before the step's events (bw: the BackwardPass)."""
        return []

    def backward_step_end(self, bw) -> List[str]:
        """After the step's events, before the adjoint flow back to t0."""
        return []

    def backward_spike(self, bw, p: str) -> List[str]:
        """A spike of neuron i of p at ev.t: its adjoint jump (and its parameters' share), pushed as pending."""
        raise NotImplementedError

    def spike_param_term(self, p: str, name: str, explicit: Optional[str]) -> Optional[str]:
        """The explicit term of learnable parameter `name` at a spike (explicit: the exact spike's, or None)."""
        return explicit

    # -- shared by both -----------------------------------------------------------------------------------
    def count_spike(self, p: str, indent: str) -> List[str]:
        """A spike of neuron i of p at t: its count; past max_spikes forward() stops with an error."""
        return [f"{indent}if (++ws.{p}_count[i] > max_spikes) {{",
                f"{indent}    st.code = 1; st.info[0] = POP_{p}; st.info[1] = i; st.info[3] = ws.{p}_count[i]; return 1;",
                f"{indent}}}"]

    def output_spike(self, p: str, t: str, indent: str) -> List[str]:
        """A spike of neuron i of p at t: the readout's record of it, where p is the readout population."""
        return self.nw.readout.native_output_spike(t, indent) if p == self.nw.out else []

    def reset_on_end(self, p: str, x: str, t: str, indent: str) -> List[str]:
        """The reset of neuron i of p at t (state x just before it) added to its end-of-step state."""
        return [f"{indent}double h[MAX_VARS], d[MAX_VARS], r[MAX_VARS];   // reset: x_end += Phi(t1 - t_s) (h(x-) - x-)",
                f"{indent}std::memcpy(h, {x}, sizeof(h)); {p}_reset_single(P, h, i);",
                f"{indent}for (int v = 0; v < {p}_VARS; v++) d[v] = h[v] - {x}[v];",
                f"{indent}{p}_propagate_state(P, t1 - {t}, d, r, i);",
                f"{indent}for (int v = 0; v < {p}_VARS; v++) ws.{p}_end[v * {p}_N + i] += (scalar)r[v];"]

    def adjoint_after_spike(self, p: str, extra: str = "") -> List[str]:
        """Backward: lp, neuron i's adjoint just after its spike, from lambda(t1) (and l1, lm declared)."""
        return [f"                double lp[MAX_VARS], lm[MAX_VARS], {extra}l1[MAX_VARS];",
                f"                for (int v = 0; v < {p}_VARS; v++) l1[v] = ws.{p}_lam[v * {p}_N + i];",
                f"                {p}_propagate_adjoint(P, tau, l1, lp, i);"]

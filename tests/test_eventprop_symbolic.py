"""The adjoint the pass derives for LIF + exponential synapse equals the closed forms of
docs/design/eventprop.md#lif-in-closed-form.

The closed forms use Wunderlich & Pehle's scaling lambda_I^WP = (tau_m / tau_s) lambda_I; our adjoints are
plain (lambda = dL/dx), so each comparison maps one onto the other and simplifies the difference to zero.
"""
import sympy as sp

from genn_eventprop.eventprop import E, R, derive_population
from genn_eventprop.integrate import tau
from genn_eventprop.ir import build_population_ir
from genn_eventprop.models import ExponentialSynapse, LeakyIntegrate, LeakyIntegrateFire
from genn_eventprop.network import Population

tm, ts, theta = sp.symbols("tau_mem tau_syn theta", positive=True)
V, I = sp.symbols("V I", real=True)
lam_V, lam_I = sp.symbols("lambda_V lambda_I", real=True)
alpha, beta = sp.exp(-tau / tm), sp.exp(-tau / ts)


def lif_adjoint(reset="zero"):
    pop = Population("hid", 4, LeakyIntegrateFire(reset=reset), ExponentialSynapse())
    return derive_population(build_population_ir(pop))


def is_zero(expr):
    return sp.simplify(sp.expand(expr)) == 0


def test_forward_exact_update_is_the_closed_form():
    Phi = lif_adjoint().propagator.Phi
    V_new = (Phi * sp.Matrix([V, I]))[0]
    I_new = (Phi * sp.Matrix([V, I]))[1]
    assert is_zero(V_new - (alpha * V + I * ts / (tm - ts) * (alpha - beta)))
    assert is_zero(I_new - beta * I)


def test_backward_step_without_drive_is_the_closed_form():
    Phi = lif_adjoint().propagator.Phi
    lam_new = Phi.T * sp.Matrix([lam_V, lam_I])
    # closed form with A = 0: lambda_I^WP <- lambda_I^WP beta + tau_m/(tau_m - tau_s) lambda_V (alpha - beta)
    lam_I_wp = tm / ts * lam_I
    assert is_zero(lam_new[0] - alpha * lam_V)
    assert is_zero(tm / ts * lam_new[1] - (lam_I_wp * beta + tm / (tm - ts) * lam_V * (alpha - beta)))


def test_backward_step_with_readout_drive_is_the_closed_form():
    adj = derive_population(build_population_ir(Population("out", 2, LeakyIntegrate(), ExponentialSynapse())))
    c = sp.Symbol("c", real=True)            # dL/dz * w / T, constant within the step
    P = adj.propagator
    lam_new = P.Phi.T * sp.Matrix([lam_V, lam_I]) + c * P.Psi.T * adj.readout_drive
    A = c * tm                                # the closed form's drive A in these units
    lam_I_wp = tm / ts * lam_I
    assert is_zero(lam_new[0] - (A + (lam_V - A) * alpha))
    assert is_zero(tm / ts * lam_new[1]
                   - (A + (lam_I_wp - A) * beta + tm / (tm - ts) * (lam_V - A) * (alpha - beta)))


def test_jump_at_a_spike_is_the_closed_form_for_reset_to_zero():
    adj = lif_adjoint("zero")
    # E = sum_j w_jn k_j with k_j = lambda_I,j/tau_s - lambda_V,j/tau_m (the derived error factor)
    w1, w2, lV1, lV2, lI1, lI2 = sp.symbols("w1 w2 lV1 lV2 lI1 lI2", real=True)
    k = adj.error_factor
    E_value = sum(wj * k.subs({lam_V: lv, lam_I: li}) for wj, lv, li in ((w1, lV1, lI1), (w2, lV2, lI2)))
    jumped = adj.spike_jump.subs({E: E_value, R: 0, V: theta})
    closed_V = lam_V + (theta * lam_V + sum(wj * (lv - tm / ts * li)
                                           for wj, lv, li in ((w1, lV1, lI1), (w2, lV2, lI2)))) / (I - theta)
    assert is_zero(jumped[0] - closed_V)
    assert is_zero(jumped[1] - lam_I)


def test_weight_gradient_factor_is_the_plain_synaptic_adjoint():
    # dL/dw_jn = sum_s lambda_I,j(t_s) = -tau_s sum_s lambda_I^WP,j / tau_m ... in plain units: lambda_I
    assert lif_adjoint().grad_factor == lam_I

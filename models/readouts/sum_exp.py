"""sum_exp: the loss-shaping default of Nowotny et al.: early evidence counts more, w(t) = exp(-t / T)."""
from .integral import IntegralReadout


class SumExp(IntegralReadout):
    name, order, weighting = "sum_exp", 20, "exp(-t / T)"

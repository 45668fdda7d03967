"""sum: z_k = (1/T) * integral of V_k over the trial."""
from .integral import IntegralReadout


class Sum(IntegralReadout):
    name, order, weighting = "sum", 10, "1"

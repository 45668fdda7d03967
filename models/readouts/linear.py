"""linear: w(t) = 1 - t / T, from 1 at the start of the trial down to 0 at its end."""
from .integral import IntegralReadout


class Linear(IntegralReadout):
    name, order, weighting = "linear", 30, "1 - t / T"

"""sigmoid: w(t) falls smoothly from about 1 to about 0 around the middle of the trial."""
from .integral import IntegralReadout


class Sigmoid(IntegralReadout):
    name, order, weighting = "sigmoid", 40, "1 / (1 + exp((t / T - 0.5) / 0.2))"

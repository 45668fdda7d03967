"""genn-eventprop: exact-gradient training of spiking neural networks."""
__version__ = "0.1.0"

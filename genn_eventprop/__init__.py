"""genn-eventprop: exact-gradient training of spiking neural networks."""
import os as _os

__version__ = "0.1.0"

# models/ and cli/ sit at the top of the source tree and install as genn_eventprop.models and
# genn_eventprop.cli. When this package is imported straight from a source checkout (the checkout's
# root on sys.path, e.g. `python -m pytest` there), the installer's mapping is shadowed: look there too.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "setup.cfg")) and _os.path.isfile(_os.path.join(_root, "models", "__init__.py")):
    __path__.append(_root)  # noqa: F821 (the package's own __path__)

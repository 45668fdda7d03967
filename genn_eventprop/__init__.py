"""genn-eventprop: exact-gradient training of spiking neural networks.

The package's code is in three folders of the source tree: genn_eventprop/, models/ (installed as
genn_eventprop.models) and cli/ (installed as genn_eventprop.cli); setup.cfg's package_dir maps them. An
install (`pip install .`) copies them into place; an editable install (`pip install -e .`) maps the three
names to the three folders (setuptools' editable finder). Either way nothing else is importable under this
package, and running from a checkout without installing it is not supported (docs/dev/worktrees.md).
"""

__version__ = "0.1.0"

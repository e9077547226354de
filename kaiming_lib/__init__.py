"""kaiming_lib: the library behind the Kaiming initialization course.

Submodules (imported on first use, so that ``import kaiming_lib`` stays fast and never pulls
in matplotlib):

- ``kaiming_lib.init``: initializers that match ``torch.nn.init``, and the scheme registry;
- ``kaiming_lib.variance``: the variance theory (moments, gains, predicted recursions);
- ``kaiming_lib.probes``: measured signal propagation through stacks of layers;
- ``kaiming_lib.mlp``: NumPy networks with hand-written backprop, and their training loop;
- ``kaiming_lib.data``: the 8x8 digits and synthetic data sets, offline;
- ``kaiming_lib.lsuv``: layer-sequential unit-variance initialization (Mishkin and Matas);
- ``kaiming_lib.plotting``: scheme colours, course style, figure saving, plot helpers;
- ``kaiming_lib.widgets``: the interactive explorer (ipywidgets);
- ``kaiming_lib.exercises``: checkers for the notebooks' coding exercises.

``kaiming_lib.SuspiciousInputWarning`` is the warning every module gives for input that is
legal but probably a mistake.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"init", "variance", "probes", "mlp", "data", "plotting", "exercises", "lsuv",
               "widgets"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "SuspiciousInputWarning":
        return importlib.import_module(f"{__name__}._validation").SuspiciousInputWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"SuspiciousInputWarning"})

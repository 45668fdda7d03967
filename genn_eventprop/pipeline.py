"""Where the parts that turn a config into running pieces live (this module only names them, for old imports):

* data: genn_eventprop/data/load.py (load_data, Splits, fit_dataset, check_classes_used, input_channels, the
  sizes a config fixes without data) and data/trials.py + data/batch.py (the one trial-length rule,
  make_trial_batch);
* the network: builder.py (build_network, network_for);
* the backend: backends/factory.py (make_backend, adam_on_device);
* code files: code_files.py (write_code, write_genn_code);
* the gradient check: gradcheck.py (run_gradcheck).
"""
from genn_eventprop.backends.factory import adam_on_device, make_backend  # noqa: F401
from genn_eventprop.builder import network_for  # noqa: F401
from genn_eventprop.code_files import write_code, write_genn_code  # noqa: F401
from genn_eventprop.data.batch import make_trial_batch  # noqa: F401
from genn_eventprop.data.load import (Splits, check_classes_used, fit_dataset, input_channels,  # noqa: F401
                                      load_data)
from genn_eventprop.data.trials import TrialLengths, latest_spike  # noqa: F401
from genn_eventprop.files import atomic_write_text  # noqa: F401
from genn_eventprop.gradcheck import run_gradcheck  # noqa: F401

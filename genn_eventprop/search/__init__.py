"""Bayesian hyperparameter search: scikit-optimize proposes, the trainer evaluates, a database remembers.

Every trial is a row in a SQL database (SQLite in the search folder by default) written when it starts
and when it ends, so a search can be killed at any moment and resumed: finished trials are kept, a
trial that was running is run again with the same parameters. Worker processes, on one machine or
several (with a server database), coordinate only through the database: a worker claims the next trial
inside a write transaction, so no two workers ever run the same one.

The modules, by job: files (the search file and its checks), store (the trials table, leases and
heartbeats), optimiser (proposals and the best trial), trials (running one trial), workers (the worker
loop, the process pool, run_search), outputs (trials.csv, best.yaml, plots). Every name is importable from
here, as it was from the single module.
"""
from genn_eventprop.search.files import (OBJECTIVES, SPACE_TYPES, SEARCH_KEYS, Dimension, SearchConfig, _err,
                                         _is_number, _is_int, parse_dimension, _values_to_check, _integer,
                                         _cross_validation, base_config_path, load_search_config)
from genn_eventprop.search.store import WAIT, _safe_url, machine_name, TrialStore, _first_line, Heartbeat
from genn_eventprop.search.optimiser import _to_python, _optimiser, _propose, _best
from genn_eventprop.search.trials import trial_config, _cv_splits, run_trial, best_of_run, mean_of_last_epochs
from genn_eventprop.search.workers import (serve_trials, worker_loop, _eta, _die_with_parent, _worker_main,
                                           run_workers, run_search)
from genn_eventprop.search.outputs import write_outputs, _plots

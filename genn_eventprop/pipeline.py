"""Config to running parts: datasets, network, backend. Shared by train, evaluate, search, codegen, gradcheck."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from genn_eventprop.builder import build_network, hidden_names
from genn_eventprop.errors import ConfigError, DataError, UserError
from genn_eventprop.files import atomic_write_text  # noqa: F401  (also used by train)
from genn_eventprop.network import Network


@dataclass
class Splits:
    train: object
    valid: Optional[object]
    test: Optional[object]
    num_channels: int
    num_classes: int


def _load_kind(cfg, path, split):
    from genn_eventprop.data import h5, shd

    kind = cfg.data.kind
    if kind == "shd":
        return shd.load_shd(path, split)
    if kind == "ssc":
        return shd.load_ssc(path, split)
    if kind == "h5":
        return h5.load_h5(path)
    raise ConfigError(f"data.kind {kind!r} has no {split} file")


def load_data(cfg) -> Splits:
    """Train, validation and test sets as the config describes them."""
    from genn_eventprop.data import splits as split_mod

    d = cfg.data
    seed = cfg.seed
    valid = test = None
    if d.kind == "yinyang":
        from genn_eventprop.data.yinyang import make_yinyang
        y = d.yinyang
        train = make_yinyang(y.train_size, seed=seed)
        valid = make_yinyang(y.valid_size, seed=seed + 1) if y.valid_size else None
        test = make_yinyang(y.test_size, seed=seed + 2) if y.test_size else None
        return Splits(train, valid, test, train.num_channels, train.num_classes)
    if d.kind in ("shd", "ssc"):
        train = _load_kind(cfg, d.path, "train")
        test = _load_kind(cfg, d.path, "test")
        if d.kind == "ssc" and d.validation.by == "none":
            valid = _load_kind(cfg, d.path, "valid")
        for split, data in (("test", test), ("validation", valid)):
            if data is not None:
                fit_dataset(data, f"the {d.kind.upper()} {split} file in data.path '{d.path}'", train.num_channels,
                            train.num_classes, train.class_names, "its training file",
                            "download that file again")
    elif d.kind == "h5":
        train = _load_kind(cfg, d.path, "train")
        check_classes_used(train, f"data.path '{d.path}'")
        if d.test_path:
            test = _load_kind(cfg, d.test_path, "test")
            fit_dataset(test, f"data.test_path '{d.test_path}'", train.num_channels, train.num_classes,
                        train.class_names, f"the training data (data.path '{d.path}')",
                        "give a test file recorded and encoded like the training file")
    elif d.kind == "tonic":
        from genn_eventprop.data.tonic_events import load_tonic
        from genn_eventprop.progress import bar
        progress = lambda items, desc: bar(items, desc, unit="sample")   # noqa: E731
        train = load_tonic(d.dataset, d.path, "train", d.tonic.downsample, d.cache_dir, progress)
        test = load_tonic(d.dataset, d.path, "test", d.tonic.downsample, d.cache_dir, progress)
        if test is not None:   # every split gets all classes
            train.num_classes = test.num_classes = max(train.num_classes, test.num_classes)
    elif d.kind == "audio":
        from genn_eventprop.data.audio import load_audio_folder
        from genn_eventprop.data.cochlea import CochleaEncoder
        e = d.encoder
        encoder = CochleaEncoder(channels=e.channels, f_min=e.f_min, f_max=e.f_max, compression=e.compression,
                                 floor_db=e.floor_db, max_rate=e.max_rate, peak_db=e.peak_db)
        train = load_audio_folder(d.path, pattern=d.pattern, encoder=encoder, cache_dir=d.cache_dir)
        check_classes_used(train, f"data.path '{d.path}'")
    else:
        raise ConfigError(f"data.kind {d.kind!r} is unknown")
    if test is None and d.test.speakers:
        train, test = split_mod.split_by_speakers(train, d.test.speakers)
    if valid is None and d.validation.by != "none":
        train, valid = split_mod.split_validation(train, by=d.validation.by, fraction=d.validation.fraction,
                                                  speakers=d.validation.speakers, seed=seed)
    if len(train) == 0:
        raise DataError("the training set is empty after the validation and test splits; check data.validation "
                        "and data.test")
    return Splits(train, valid, test, train.num_channels, train.num_classes)


def _max_unit(dataset) -> int:
    return max((int(np.max(u)) for u in dataset.units if len(u)), default=-1)


def fit_dataset(dataset, what: str, channels: int, classes: int, class_names, against: str, fix: str):
    """Check that dataset (named what) fits a network of `channels` inputs and `classes` outputs (the
    training data's, or a trained run's; named against), then give it those counts. Fewer channels or only
    some of the classes fit; spikes on a channel beyond them, a label beyond them, a num_channels attribute
    that says otherwise or class names that differ do not, and are one DataError naming both and the fix."""
    top = _max_unit(dataset)
    if top >= channels:
        raise DataError(f"{what} has spikes on channel {top}, but {against} has {channels} input channels "
                        f"(0-{channels - 1}); {fix}")
    declared = dataset.extra.get("num_channels_attribute")
    if declared is not None and int(declared) != channels:
        raise DataError(f"{what} says it has {declared} channels (its num_channels attribute), but {against} has "
                        f"{channels}; {fix}")
    labels = np.asarray(dataset.labels)
    if len(labels) and int(labels.max()) >= classes:
        raise DataError(f"{what} has labels up to {int(labels.max())}, but {against} has {classes} classes "
                        f"(labels 0-{classes - 1}); {fix}")
    names = dataset.class_names
    if names and class_names and list(names) != list(class_names)[:len(names)]:
        bad = next(i for i, (a, b) in enumerate(zip(names, class_names)) if a != b) if \
            len(names) <= len(class_names) else len(class_names)
        theirs = class_names[bad] if bad < len(class_names) else "none"
        raise DataError(f"{what} calls class {bad} {names[bad]!r}, but {against} calls it {theirs!r}; {fix}")
    dataset.num_channels = channels
    dataset.num_classes = classes
    dataset.class_names = list(class_names) if class_names else names
    return dataset


def check_classes_used(dataset, what: str):
    """Output classes come from the largest label (or the class names): refuse a stray label that would make
    most of them classes without a single sample (a label 1000 among 0-9 would give 1001 outputs)."""
    labels = np.asarray(dataset.labels)
    names = dataset.class_names
    generated = not names or list(names) == [str(i) for i in range(len(names))]   # integer labels as names
    if not len(labels) or not generated:
        return
    used = np.unique(labels)
    empty = dataset.num_classes - len(used)
    if empty <= len(used):
        return
    gaps = np.diff(np.concatenate([[-1], used]))
    at = int(np.argmax(gaps))
    stray = int(used[at])
    if at == 0:
        raise DataError(f"{what}: the labels start at {stray}, so the network would get {dataset.num_classes} "
                        f"output classes of which {empty} have no sample; number the classes from 0")
    count = int(np.sum(labels >= stray))
    raise DataError(f"{what}: {count} sample(s) have label {stray}{' or above' if at < len(used) - 1 else ''}, far "
                    f"beyond the other labels (up to {int(used[at - 1])}), so the network would get "
                    f"{dataset.num_classes} output classes of which {empty} have no sample; correct those labels")


def input_channels(cfg, splits: Splits) -> int:
    """Data channels after augmentation (delay lines multiply them)."""
    dl = cfg.data.augment.delay
    return splits.num_channels * (1 + dl.count) if dl.count else splits.num_channels


def trial_durations(cfg, batch_times: List[np.ndarray], longest: Optional[float] = None) -> np.ndarray:
    """Trial length per sample: data.duration; with data.same_length the dataset's latest input spike (longest,
    rounded up to the time grid: one length, and one readout weighting, for every trial); or the trial's last input
    spike plus data.tail."""
    if cfg.data.duration:
        return np.full(len(batch_times), float(cfg.data.duration))
    if cfg.data.same_length and longest is not None:
        return np.full(len(batch_times), float(np.ceil(longest / cfg.dt - 1e-9) * cfg.dt))
    return np.array([(float(t[-1]) if len(t) else 0.0) + cfg.data.tail for t in batch_times])


def _genn_backend_module(what: str):
    """genn_eventprop.backends.genn, or one clear line while the GeNN emitter is not part of this version."""
    import importlib
    try:
        return importlib.import_module("genn_eventprop.backends.genn")   # optional: needs pygenn
    except ModuleNotFoundError as err:
        if err.name != "genn_eventprop.backends.genn":
            raise
        raise UserError(f"{what}: the GeNN emitter is not part of this version of genn-eventprop yet; use "
                        "backend: native (docs/genn.md says what is ready)") from None


def make_trial_batch(cfg, dataset, indices):
    """The trials `indices` of dataset as a backend batch, each with its trial length (trial_durations)."""
    from genn_eventprop.data.batch import make_batch
    batch = make_batch(dataset, indices)
    batch.durations = trial_durations(cfg, [dataset.times[i] for i in indices],
                                      latest_spike(dataset) if cfg.data.same_length else None)
    return batch


_LATEST: dict = {}


def latest_spike(dataset) -> float:
    """The latest input spike of the whole dataset (ms), computed once per dataset."""
    key = id(dataset)
    if key not in _LATEST or _LATEST[key][0] is not dataset:
        _LATEST[key] = (dataset, max((float(t[-1]) for t in dataset.times if len(t)), default=0.0))
    return _LATEST[key][1]


def adam_on_device(cfg) -> bool:
    """Whether the trainer's Adam runs as a GeNN custom update (train.optimiser.on; auto: on genn-cuda)."""
    on = cfg.train.optimiser.on
    return on == "device" or (on == "auto" and cfg.backend == "genn-cuda")


def make_backend(cfg, network: Network, precision: Optional[str] = None, threads: Optional[int] = None):
    precision = precision or cfg.precision
    if cfg.backend == "native":
        from genn_eventprop.backends.native import NativeBackend
        backend = NativeBackend(network, precision=precision, threads=cfg.threads if threads is None else threads,
                                max_spikes=cfg.train.max_spikes, delivery=cfg.delivery)
    else:
        backend = _genn_backend_module(cfg.backend).GeNNBackend(network, kind=cfg.backend, precision=precision,
                                                                max_spikes=cfg.train.max_spikes,
                                                                batch_size=cfg.train.batch_size,
                                                                device_adam=adam_on_device(cfg))
    r = cfg.train.regularisation
    if r.convention == "published" and r.nu_lower:
        raise ConfigError("train.regularisation.nu_lower: the published convention is two-sided around nu_upper "
                          "(lambda_lower acts below it, as mlGeNN's reg_lambda_lower); remove nu_lower")
    for name, layer in zip(hidden_names(cfg), cfg.model.hidden_layers):
        # published units: mlGeNN's adjoint of V is ours divided by -tau_mem^2 (README, "Published settings")
        backend.set_regularisation(name, r.lambda_upper, r.nu_upper, r.lambda_lower, r.nu_lower, r.convention,
                                   layer.tau_mem ** 2 if r.convention == "published" else 1.0)
    return backend


def network_for(cfg, splits: Splits) -> Network:
    return build_network(cfg, input_channels(cfg, splits), splits.num_classes)


def write_code(cfg, out_dir: str, backend_kind: str = "native") -> List[str]:
    """Write the generated code for the config's network; returns the files written."""
    splits = load_data(cfg)
    network = network_for(cfg, splits)
    os.makedirs(out_dir, exist_ok=True)
    if backend_kind == "native":
        from genn_eventprop.codegen.cpp import emit_cpp
        from genn_eventprop.eventprop import derive
        from genn_eventprop.ir import build_ir
        ir = build_ir(network)
        program = emit_cpp(ir, derive(ir), cfg.precision, cfg.delivery)
        path = os.path.join(out_dir, "network.cpp")
        atomic_write_text(path, program.source)
        return [path]
    return write_genn_code(cfg, network, out_dir)


def write_genn_code(cfg, network: Network, out_dir: str) -> List[str]:
    """genn_models.txt: the GeNN model definitions (no pygenn needed); where pygenn is installed, also GeNN's
    own generated source (genn_source/) for backend genn-cuda, or genn-cpu where CUDA is not available."""
    from genn_eventprop.codegen.genn import emit_genn, render
    from genn_eventprop.eventprop import derive
    from genn_eventprop.ir import build_ir

    ir = build_ir(network)
    path = os.path.join(out_dir, "genn_models.txt")
    atomic_write_text(path, render(emit_genn(ir, derive(ir), cfg.precision)))
    written = [path]
    try:
        import pygenn  # noqa: F401
    except ImportError:
        return written
    import shutil
    from genn_eventprop.backends.available import pygenn_backend_names
    kind = "genn-cuda" if "cuda" in pygenn_backend_names() else "genn-cpu"
    backend = _genn_backend_module("codegen --backend genn").GeNNBackend(
        network, kind=kind, precision=cfg.precision, max_spikes=cfg.train.max_spikes,
        batch_size=cfg.train.batch_size if kind == "genn-cuda" else 1, cache_dir=os.path.join(out_dir, "genn_build"))
    source = backend.generate(cfg.dt)
    target = os.path.join(out_dir, "genn_source")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return written + [target]




def run_gradcheck(cfg):
    """Finite-difference check of every weight on the first gradcheck.samples training trials."""
    from genn_eventprop.gradcheck import gradcheck

    splits = load_data(cfg)
    network = network_for(cfg, splits)
    backend = make_backend(cfg, network, precision=cfg.gradcheck.precision)
    for name in hidden_names(cfg):   # regularisation is a heuristic, not part of the loss being checked
        backend.set_regularisation(name)
    from genn_eventprop.learnable import LearnedParameters

    rng = np.random.default_rng(cfg.seed)
    weights = network.init_weights(rng)
    params = LearnedParameters.from_config(cfg, backend)
    params.apply(params.initial(backend, network, rng), backend)   # per-neuron values, drawn as training does
    idx = np.arange(min(cfg.gradcheck.samples, len(splits.train)))
    batch = make_trial_batch(cfg, splits.train, idx)
    return gradcheck(backend, weights, batch, cfg.dt, cfg.gradcheck.epsilon, cfg.gradcheck.tolerance)

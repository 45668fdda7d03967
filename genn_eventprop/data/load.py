"""Config to data: the training, validation and test sets a config describes, checked against each other,
and the network's sizes (input channels, classes) the data gives or, without reading it, the config fixes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from genn_eventprop.errors import ConfigError, DataError, UserError


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
        encoder = CochleaEncoder(**e.to_dict())
        train = load_audio_folder(d.path, pattern=d.pattern, encoder=encoder, cache_dir=d.cache_dir)
        check_classes_used(train, f"data.path '{d.path}'")
    else:
        raise ConfigError(f"data.kind {d.kind!r} is unknown")
    if test is None and d.test.speakers:
        if d.validation.by == "speaker":   # by name or by number: validation never holds the test speaker
            same = set(split_mod.speaker_ids(train, d.test.speakers)) & \
                set(split_mod.speaker_ids(train, d.validation.speakers))
            if same:
                sp = min(same)
                name = train.speaker_names[sp] if train.speaker_names and sp < len(train.speaker_names) else sp
                raise DataError(f"data.validation.speakers and data.test.speakers both name speaker {name!r}: "
                                "validation must never see the test speaker; choose another training speaker")
        train, test = split_mod.split_by_speakers(train, d.test.speakers)
    if valid is None and d.validation.by != "none":
        train, valid = split_mod.split_validation(train, by=d.validation.by, fraction=d.validation.fraction,
                                                  speakers=d.validation.speakers, seed=seed)
        if d.validation.by == "speaker" and not len(valid):
            raise DataError(f"data.validation.speakers {d.validation.speakers} have no recordings in the training "
                            "data; choose speakers that are there")
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


def input_channels(cfg, data_channels: int) -> int:
    """The network's input channels for data with data_channels: delay lines (data.augment.delay) multiply them."""
    dl = cfg.data.augment.delay
    return data_channels * (1 + dl.count) if dl.count else data_channels


def declared_sizes(cfg) -> Tuple[Optional[int], Optional[int]]:
    """(data channels, classes) that the config's data fixes without reading any file: a generated dataset's,
    a published dataset's (SHD, SSC, tonic's sensors) or the cochlea encoder's channels; None where only the
    data can tell (an HDF5 file, the classes of an audio folder)."""
    d = cfg.data
    if d.kind == "yinyang":
        from genn_eventprop.data.yinyang import make_yinyang
        empty = make_yinyang(0)
        return empty.num_channels, empty.num_classes
    if d.kind in ("shd", "ssc"):
        from genn_eventprop.data.shd import CHANNELS, NUM_CLASSES
        return CHANNELS, NUM_CLASSES[d.kind]
    if d.kind == "audio":
        return d.encoder.channels, None
    if d.kind == "tonic" and d.dataset:
        from genn_eventprop.data.tonic_events import declared_sizes as tonic_sizes
        return tonic_sizes(d.dataset, d.tonic.downsample)
    return None, None


def sizes_without_data(cfg, channels: Optional[int] = None, classes: Optional[int] = None) -> Tuple[int, int]:
    """(data channels, classes) for a network built without loading the data (codegen): the given values, else
    the config's (declared_sizes); one UserError naming the missing ones and the flags that give them."""
    known_channels, known_classes = declared_sizes(cfg)
    channels = channels if channels is not None else known_channels
    classes = classes if classes is not None else known_classes
    missing = [flag for flag, value in (("--channels", channels), ("--classes", classes)) if value is None]
    if missing:
        what = " and ".join({"--channels": "input channels", "--classes": "classes"}[m] for m in missing)
        raise UserError(f"data.kind {cfg.data.kind}: the config does not fix the number of {what} without reading "
                        f"the data; give {' '.join(f'{m} N' for m in missing)}")
    for flag, value in (("--channels", channels), ("--classes", classes)):
        if int(value) < 1:
            raise UserError(f"{flag} must be 1 or more, got {value}")
    return int(channels), int(classes)

"""Any tonic event dataset (N-MNIST, DVS Gesture, POKER-DVS, ...) as spike trains: data.kind: tonic.

tonic reads each dataset in its own on-disk format (N-MNIST's 40-bit binary events, DVS Gesture's .npy
files, ...) from `data.path`/<DatasetClass>/, where tonic keeps it, and downloads it there when it is
missing. Each event (x, y, polarity, t) becomes a spike of one input channel at t in ms:

    channel = ((y // d) * ceil(width / d) + x // d) * polarities + p        d = data.tonic.downsample

so the network has ceil(width / d) * ceil(height / d) * polarities inputs (a sensor without y or polarity
counts them as 0). Events that land on the same channel stay separate spikes. The first read of a split
is cached as an SHD-layout HDF5 file (data/h5.py) in data.cache_dir (default: the data folder), named
after the dataset, split and down-sampling; delete it to read the events again.

tonic checks that a dataset is complete (e.g. N-MNIST's 10,000 .bin files) before it reads anything, and
downloads it otherwise; here a dataset folder that tonic's archive left (or that someone copied) is read
as it is, however many files it holds, so a subset works too.
"""
from __future__ import annotations

import inspect
import math
import os
from typing import Optional

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.h5 import load_h5, save_h5
from genn_eventprop.errors import ConfigError, DataError


def tonic_datasets() -> list:
    """Names of tonic's dataset classes that have a sensor size (the event datasets)."""
    import tonic.datasets
    return sorted(n for n in dir(tonic.datasets) if isinstance(getattr(tonic.datasets, n), type)
                  and hasattr(getattr(tonic.datasets, n), "sensor_size"))


def _dataset_class(name: str):
    import tonic.datasets
    names = tonic_datasets()
    match = {n.lower(): n for n in names}.get(str(name).lower().replace("-", "").replace("_", ""))
    if match is None:
        raise ConfigError(f"data.dataset: tonic has no event dataset {name!r}; choose one of {', '.join(names)}")
    return getattr(tonic.datasets, match)


def _local(cls):
    """cls whose completeness check accepts an extracted folder with files in it (same class name, so tonic
    looks in the same <save_to>/<ClassName> folder)."""
    original = cls._check_exists

    def _check_exists(self):
        folder = os.path.join(self.location_on_system, getattr(self, "folder_name", "") or "")
        if getattr(self, "folder_name", "") and os.path.isdir(folder):
            for _, _, files in os.walk(folder):
                if files:
                    return True
        return original(self)
    return type(cls.__name__, (cls,), {"_check_exists": _check_exists, "__module__": cls.__module__})


def _open(cls, root: str, split: str):
    params = inspect.signature(cls.__init__).parameters
    if "train" in params:
        kwargs = {"train": split == "train"}
    elif "split" in params:
        kwargs = {"split": split}
    else:
        kwargs = {}
        if split != "train":
            return None
    try:
        return _local(cls)(save_to=root, **kwargs)
    except Exception as err:   # tonic raises network, archive and file errors of many kinds
        reason = str(err).splitlines()[0] if str(err) else ""
        where = os.path.join(root, cls.__name__)
        raise DataError(f"tonic dataset {cls.__name__} ({split}) is not in '{where}' and the download failed "
                        f"({type(err).__name__}: {reason}); put the dataset's extracted folder there (as tonic "
                        f"downloads it) or connect to the internet") from None


def channels_of(sensor_size, downsample: int) -> int:
    width, height, polarities = (tuple(sensor_size) + (1, 1, 1))[:3]
    return math.ceil(width / downsample) * math.ceil(height / downsample) * max(int(polarities), 1)


def declared_sizes(name: str, downsample: int = 1):
    """(channels, classes) of tonic's dataset `name` from its class alone (no file read): the sensor's channels
    at this down-sampling, and the number of its class names (None where tonic lists none)."""
    cls = _dataset_class(name)
    classes = list(getattr(cls, "classes", []) or [])
    return channels_of(cls.sensor_size, downsample), (len(classes) or None)


def events_to_spikes(events, sensor_size, downsample: int):
    """(times ms sorted, channels) of a tonic structured event array."""
    width, height, polarities = (tuple(sensor_size) + (1, 1, 1))[:3]
    names = events.dtype.names
    x = np.asarray(events["x"], dtype=np.int64) if "x" in names else np.zeros(len(events), np.int64)
    y = np.asarray(events["y"], dtype=np.int64) if "y" in names else np.zeros(len(events), np.int64)
    p = np.asarray(events["p"], dtype=np.int64) if "p" in names else np.zeros(len(events), np.int64)
    polarities = max(int(polarities), 1)
    p = np.clip(p, 0, polarities - 1)   # some sensors write polarity -1/1, some 0/1
    w = math.ceil(width / downsample)
    channel = ((y // downsample) * w + x // downsample) * polarities + p
    t = np.asarray(events["t"], dtype=np.float64) / 1000.0   # tonic's time unit is the microsecond
    order = np.argsort(t, kind="stable")
    return t[order], channel[order].astype(np.int32)


def load_tonic(name: str, root: Optional[str], split: str, downsample: int = 1,
               cache_dir: Optional[str] = None, progress=None) -> Optional[SpikeDataset]:
    """The split ('train' or 'test') of tonic's dataset `name` from the folder root; None when the dataset
    has no such split. progress: an optional wrapper of the sample iterator (tqdm-like)."""
    if root is None:
        raise DataError("no folder given for the tonic dataset; set data.path")
    cls = _dataset_class(name)
    cache_dir = cache_dir or root
    cache = os.path.join(cache_dir, f"tonic_{cls.__name__}_{split}_ds{downsample}.h5")
    if os.path.isfile(cache):
        return load_h5(cache)
    dataset = _open(cls, root, split)
    if dataset is None:
        return None
    n_channels = channels_of(cls.sensor_size, downsample)
    times, units, labels = [], [], []
    items = range(len(dataset))
    for i in (progress(items, f"reading {cls.__name__} {split}") if progress else items):
        try:
            events, label = dataset[i]
        except Exception as err:   # a file tonic cannot read
            path = dataset.data[i] if hasattr(dataset, "data") and i < len(dataset.data) else f"sample {i}"
            raise DataError(f"tonic could not read '{path}' ({type(err).__name__}: {err}); delete or replace "
                            "the file") from None
        t, c = events_to_spikes(events, cls.sensor_size, downsample)
        if len(c) and (c.min() < 0 or c.max() >= n_channels):
            raise DataError(f"{cls.__name__} sample {i} has an event outside the sensor "
                            f"{tuple(cls.sensor_size)}; is it the right dataset?")
        times.append(t)
        units.append(c)
        labels.append(int(label))
    if not labels:
        raise DataError(f"tonic found no {split} samples of {cls.__name__} in '{os.path.join(root, cls.__name__)}'")
    classes = list(getattr(cls, "classes", []) or [])
    data = SpikeDataset(times=times, units=units, labels=np.array(labels), num_channels=n_channels,
                        num_classes=max(len(classes), max(labels) + 1),
                        class_names=[str(c) for c in classes] if classes else None)
    save_h5(data, cache)
    return load_h5(cache)

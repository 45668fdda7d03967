"""Spike datasets in the HDF5 layout of the Spiking Heidelberg Digits (SHD) and Speech Commands (SSC).

The layout (Cramer et al. 2020), one entry per sample:

    spikes/times         variable-length float arrays, spike times in SECONDS
    spikes/units         variable-length integer arrays, the channel of each spike
    labels               integer class of each sample
    extra/speaker        integer speaker of each sample (optional)
    extra/keys           class names as bytes, indexed by label (optional)
    extra/speaker_names  speaker names as bytes, indexed by speaker (optional; written by save_h5)
    attribute num_channels on the file (optional; written by save_h5)

SHD files also hold extra/meta_info (gender, age, height of the speakers); it is left unread. On loading,
times become ms and each sample is sorted by time.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.errors import DataError
from genn_eventprop.files import atomic_output
from genn_eventprop.progress import bar

SHD_CHANNELS = 700
REQUIRED = ("spikes/times", "spikes/units", "labels")


def _names(values) -> list:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _as_numbers(path: str, name: str, values, integer: bool) -> np.ndarray:
    """values as float64 (or int64 with integer); strings, or non-whole numbers where integers are due, are
    a DataError naming the dataset and how many entries are affected (nothing is silently truncated)."""
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        what = "text" if a.dtype.kind in "SU" else f"values of type {a.dtype}"
        raise DataError(f"'{path}': '{name}' holds {what}, not numbers; re-create the file with numeric {name}")
    if a.dtype.kind == "f":
        if integer:
            bad = ~np.isfinite(a) | (a != np.round(a))
            if bad.any():
                raise DataError(f"'{path}': {int(bad.sum())} entries of '{name}' are not whole numbers (e.g. "
                                f"{float(a[bad].flat[0])!r}); {name} must be integers: re-create the file")
            return a.astype(np.int64)
        return a.astype(np.float64)
    return a.astype(np.int64 if integer else np.float64)


def _check_whole_units(path: str, raw_u):
    """Unit ids stored as floats must be whole numbers; the count over the whole file when some are not."""
    bad, example = 0, None
    for u in raw_u:
        a = np.asarray(u)
        if a.dtype.kind == "f":
            wrong = ~np.isfinite(a) | (a != np.round(a))
            if wrong.any():
                bad += int(wrong.sum())
                example = float(a[wrong].flat[0]) if example is None else example
    if bad:
        raise DataError(f"'{path}': {bad} entries of 'spikes/units' are not whole numbers (e.g. {example!r}); "
                        "spikes/units must be integers: re-create the file")


def _per_sample(path: str, name: str, ds):
    """The per-sample entries of a dataset: one dimension, one entry per sample (not a single value)."""
    if ds.shape == () or ds.shape is None:
        raise DataError(f"'{path}': '{name}' is a single value, not one entry per sample; re-create the file in "
                        "the SHD layout (spikes/times, spikes/units, labels)")
    if len(ds.shape) != 1:
        raise DataError(f"'{path}': '{name}' has shape {ds.shape}, not one entry per sample; re-create the file "
                        "in the SHD layout")
    return ds[()]


def _sorted_sample(path: str, t, u):
    t = _as_numbers(path, "spikes/times", t, integer=False) * 1000.0
    u = _as_numbers(path, "spikes/units", u, integer=True)
    if t.ndim != 1 or u.ndim != 1:
        raise DataError(f"'{path}' is corrupt: a sample's spike times or units are not a list of numbers")
    if len(t) != len(u):
        raise DataError(f"'{path}' is corrupt: a sample has {len(t)} spike times but {len(u)} units")
    if len(t) > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, u = t[order], u[order]
    return t, u


def _channels(path: str, requested: Optional[int], attr, max_unit: int) -> int:
    """The num_channels rule: the argument, else the file's attribute, else 700 (the SHD and SSC input
    size) when every unit fits, else the largest unit + 1."""
    if requested is not None:
        num_channels = int(requested)
    elif attr is not None:
        num_channels = attr
    else:
        num_channels = SHD_CHANNELS if max_unit < SHD_CHANNELS else max_unit + 1
    if max_unit >= num_channels:
        raise DataError(f"'{path}' has spikes on channel {max_unit}, beyond its {num_channels} channels")
    return num_channels


def _channel_attribute(path: str, attr) -> Optional[int]:
    """The num_channels attribute as a positive integer, or a DataError saying what it is instead."""
    if attr is None:
        return None
    a = np.asarray(attr)
    whole = a.shape in ((), (1,)) and a.dtype.kind in "iuf" and np.isfinite(a).all() and float(a.flat[0]) == \
        int(a.flat[0]) and int(a.flat[0]) >= 1 and a.dtype.kind != "b"
    if not whole:
        raise DataError(f"'{path}': its num_channels attribute is {attr!r}, not a positive whole number; set it to "
                        "the number of input channels, or delete it")
    return int(a.flat[0])


def load_h5(path, num_channels: Optional[int] = None) -> SpikeDataset:
    """Read an SHD-layout file (times in ms, sorted); num_channels as in _channels."""
    import h5py
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"no spike file at '{path}'; check data.path (an SHD-layout HDF5 file)")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"'{path}' is not a readable HDF5 file ({err}); re-download or re-create it") from None
    with f:
        for need in REQUIRED:
            if need not in f or not isinstance(f[need], h5py.Dataset):
                raise DataError(f"'{path}' has no '{need}' dataset: not an SHD-layout file "
                                "(needs spikes/times, spikes/units, labels)")
        try:   # one read per dataset: element-wise reads of a vlen dataset are slow on SSC's 75k samples
            raw_t = _per_sample(path, "spikes/times", f["spikes/times"])
            raw_u = _per_sample(path, "spikes/units", f["spikes/units"])
            labels = _as_numbers(path, "labels", _per_sample(path, "labels", f["labels"]), integer=True)
            speakers = (_as_numbers(path, "extra/speaker", _per_sample(path, "extra/speaker", f["extra/speaker"]),
                                    integer=True) if "extra/speaker" in f else None)
            class_names = _names(_per_sample(path, "extra/keys", f["extra/keys"])) if "extra/keys" in f else None
            speaker_names = (_names(_per_sample(path, "extra/speaker_names", f["extra/speaker_names"]))
                             if "extra/speaker_names" in f else None)
            attr_channels = _channel_attribute(path, f.attrs.get("num_channels"))
        except (OSError, TypeError, ValueError, AttributeError) as err:
            raise DataError(f"'{path}' is corrupt ({err}); re-download or re-create it") from None
    if not (len(raw_t) == len(raw_u) == len(labels)):
        raise DataError(f"'{path}' is corrupt: {len(raw_t)} spike-time arrays, {len(raw_u)} unit arrays and "
                        f"{len(labels)} labels")
    if speakers is not None and len(speakers) != len(labels):
        raise DataError(f"'{path}' is corrupt: {len(speakers)} speakers for {len(labels)} samples")
    _check_whole_units(path, raw_u)
    times, units = [], []
    for t, u in bar(zip(raw_t, raw_u), f"reading {os.path.basename(path)}", total=len(raw_t), unit="sample"):
        t, u = _sorted_sample(path, t, u)
        times.append(t)
        units.append(u)
    all_t = [t for t in times if len(t)]
    if all_t and (not all(np.isfinite(t).all() for t in all_t) or min(float(t[0]) for t in all_t) < 0):
        raise DataError(f"'{path}' has negative or non-finite spike times")
    if any(len(u) and u.min() < 0 for u in units):
        raise DataError(f"'{path}' has negative spike units")
    if len(labels) and labels.min() < 0:
        raise DataError(f"'{path}' has negative labels")
    max_unit = max((int(u.max()) for u in units if len(u)), default=-1)
    num_channels = _channels(path, num_channels, attr_channels, max_unit)
    num_classes = max(int(labels.max()) + 1 if len(labels) else 0, len(class_names or []))
    return SpikeDataset(times=times, units=[u.astype(np.int32) for u in units], labels=labels,
                        num_channels=num_channels, num_classes=num_classes, speakers=speakers,
                        class_names=class_names, speaker_names=speaker_names,
                        extra={"num_channels_attribute": attr_channels})


def save_h5(dataset: SpikeDataset, path) -> None:
    """Write dataset in the SHD layout, atomically (a temporary file renamed into place).

    Times are stored as float64 seconds (SHD uses float16) so that exact spike times survive a round trip.
    """
    import h5py
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w") as f:
            vt = h5py.vlen_dtype(np.dtype("float64"))
            vu = h5py.vlen_dtype(np.dtype("uint16") if dataset.num_channels <= 65536 else np.dtype("int32"))
            t = f.create_dataset("spikes/times", (len(dataset),), dtype=vt)
            u = f.create_dataset("spikes/units", (len(dataset),), dtype=vu)
            for i in range(len(dataset)):
                t[i] = np.asarray(dataset.times[i], dtype=np.float64) / 1000.0
                u[i] = np.asarray(dataset.units[i])
            f.create_dataset("labels", data=np.asarray(dataset.labels, dtype=np.int64))
            if dataset.speakers is not None:
                f.create_dataset("extra/speaker", data=np.asarray(dataset.speakers, dtype=np.int64))
            if dataset.class_names:
                f.create_dataset("extra/keys", data=np.array([n.encode() for n in dataset.class_names]))
            if dataset.speaker_names:
                f.create_dataset("extra/speaker_names", data=np.array([n.encode() for n in dataset.speaker_names]))
            f.attrs["num_channels"] = dataset.num_channels

"""Spike datasets in the HDF5 layout of the Spiking Heidelberg Digits (SHD) and Speech Commands (SSC).

The layout: spikes/times and spikes/units (one variable-length array per sample; times in SECONDS),
labels, and optionally extra/speaker, extra/keys (class names) and extra/speaker_names. Spike times are
converted to ms on loading.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.errors import DataError

SHD_CHANNELS = 700


def _names(values) -> list:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def load_h5(path: str, num_channels: Optional[int] = None) -> SpikeDataset:
    """Read an SHD-layout file. num_channels: given, else the file's 'num_channels' attribute, else 700
    (SHD, SSC) when every unit fits, else the largest unit + 1."""
    import h5py
    if not os.path.exists(path):
        raise DataError(f"no spike file at '{path}'; check data.path (an SHD-layout HDF5 file)")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"'{path}' is not a readable HDF5 file ({err}); re-download or re-create it") from None
    with f:
        for need in ("spikes/times", "spikes/units", "labels"):
            if need not in f:
                raise DataError(f"'{path}' has no '{need}' dataset: not an SHD-layout file "
                                "(needs spikes/times, spikes/units, labels)")
        raw_t, raw_u = f["spikes/times"], f["spikes/units"]
        labels = np.asarray(f["labels"][()], dtype=np.int64)
        if not (len(raw_t) == len(raw_u) == len(labels)):
            raise DataError(f"'{path}' is corrupt: {len(raw_t)} spike-time arrays, {len(raw_u)} unit arrays and "
                            f"{len(labels)} labels")
        times, units = [], []
        for t, u in zip(raw_t, raw_u):
            t = np.asarray(t, dtype=np.float64) * 1000.0
            u = np.asarray(u, dtype=np.int64)
            if len(t) != len(u):
                raise DataError(f"'{path}' is corrupt: a sample has {len(t)} spike times but {len(u)} units")
            o = np.argsort(t, kind="stable")
            times.append(t[o])
            units.append(u[o].astype(np.int32))
        speakers = np.asarray(f["extra/speaker"][()], dtype=np.int64) if "extra/speaker" in f else None
        class_names = _names(f["extra/keys"][()]) if "extra/keys" in f else None
        speaker_names = _names(f["extra/speaker_names"][()]) if "extra/speaker_names" in f else None
        attr_channels = f.attrs.get("num_channels")
    max_unit = max((int(u.max()) for u in units if len(u)), default=-1)
    if num_channels is None:
        num_channels = int(attr_channels) if attr_channels is not None else (
            SHD_CHANNELS if max_unit < SHD_CHANNELS else max_unit + 1)
    if max_unit >= num_channels:
        raise DataError(f"'{path}' has spikes on channel {max_unit}, beyond its {num_channels} channels")
    if len(labels) and labels.min() < 0:
        raise DataError(f"'{path}' has negative labels")
    num_classes = max(int(labels.max()) + 1 if len(labels) else 0, len(class_names or []))
    return SpikeDataset(times=times, units=units, labels=labels, num_channels=num_channels, num_classes=num_classes,
                        speakers=speakers, class_names=class_names, speaker_names=speaker_names)


def save_h5(dataset: SpikeDataset, path: str):
    """Write dataset in the SHD layout, atomically (a temporary file renamed into place)."""
    import h5py
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with h5py.File(tmp, "w") as f:
        vt = h5py.vlen_dtype(np.dtype("float64"))
        vu = h5py.vlen_dtype(np.dtype("uint16") if dataset.num_channels <= 65535 else np.dtype("int32"))
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
    os.replace(tmp, path)

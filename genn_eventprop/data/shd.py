"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) (Cramer et al. 2020).

When the HDF5 files are already in the data folder (or in the 'SHD'/'SSC' subfolder that tonic uses),
they are read directly, with no network access: tonic itself downloads again whenever its zip file is
missing. Otherwise tonic downloads them into the folder.
"""
from __future__ import annotations

import os

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.h5 import load_h5
from genn_eventprop.errors import DataError

SPLITS = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}


def _find(root: str, name: str, file: str):
    for folder in (root, os.path.join(root, name.upper())):
        path = os.path.join(folder, file)
        if os.path.exists(path):
            return path
    return None


def _load(name: str, root: str, split: str) -> SpikeDataset:
    if split not in SPLITS[name]:
        raise DataError(f"{name.upper()} has no '{split}' split; it has {', '.join(SPLITS[name])}")
    file = f"{name}_{split}.h5"
    path = _find(root, name, file)
    if path is None:
        try:
            import tonic
            cls = getattr(tonic.datasets, name.upper())
            kwargs = {"split": split} if name == "ssc" else {"train": split == "train"}
            cls(save_to=root, **kwargs)
        except Exception as err:   # tonic raises many kinds of network and file errors
            raise DataError(f"{name.upper()} {split} data not found in '{root}' and the download failed ({type(err).__name__}: "
                            f"{str(err).splitlines()[0] if str(err) else ''}); put {file} (unzipped) in that folder "
                            f"or in {os.path.join(root, name.upper())}") from None
        path = _find(root, name, file)
        if path is None:
            raise DataError(f"tonic finished but {file} is not in '{root}' or its {name.upper()} subfolder")
    return load_h5(path)


def load_shd(root: str, split: str) -> SpikeDataset:
    return _load("shd", root, split)


def load_ssc(root: str, split: str) -> SpikeDataset:
    return _load("ssc", root, split)

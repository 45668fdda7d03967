"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) (Cramer et al. 2020).

Where a split's file is looked for, in order, in the data folder `root` and in its 'SHD' / 'SSC' subfolder
(where tonic puts it):
  1. the HDF5 file (shd_train.h5, ssc_valid.h5, ...): read directly, with no network access;
  2. its archive as downloaded by hand (shd_train.h5.zip from zenkelab.org as tonic gets it, or
     shd_train.h5.gz as first published): unpacked next to it, then read;
  3. neither: tonic downloads it into root/SHD or root/SSC. tonic is not asked first because it downloads
     again whenever its zip is missing, even when the HDF5 file is there.
"""
from __future__ import annotations

import gzip
import os
import shutil
import zipfile
from typing import Optional

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.data.h5 import load_h5
from genn_eventprop.errors import DataError
from genn_eventprop.files import atomic_output

SPLITS = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}
NUM_CLASSES = {"shd": 20, "ssc": 35}
CHANNELS = 700   # both: the channels of the cochlea model that encoded them
# SHD labels 0-9 are the English digits, 10-19 the German ones (used when a file has no extra/keys)
SHD_CLASS_NAMES = (["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
                   + ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"])


def _find(root: str, name: str, file: str) -> Optional[str]:
    for folder in (root, os.path.join(root, name.upper())):
        path = os.path.join(folder, file)
        if os.path.isfile(path):
            return path
    return None


def _unpack(archive: str, file: str) -> str:
    """archive (.zip or .gz) holding file, unpacked next to it (atomically: a cut-off unpack leaves no .h5)."""
    path = os.path.join(os.path.dirname(archive), file)
    try:
        with atomic_output(path) as tmp:
            if archive.endswith(".zip"):
                with zipfile.ZipFile(archive) as z, z.open(file) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                with gzip.open(archive, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as err:
        raise DataError(f"could not unpack '{archive}' ({err}); delete it and download it again") from None
    return path


def _download(name: str, root: str, split: str, file: str) -> None:
    try:
        import tonic
        dataset_class = getattr(tonic.datasets, name.upper())
        kwargs = {"split": split} if name == "ssc" else {"train": split == "train"}
        dataset_class(save_to=root, **kwargs)
    except Exception as err:   # tonic raises many kinds of network, archive and file errors
        reason = str(err).splitlines()[0] if str(err) else ""
        raise DataError(f"{name.upper()} {split} data not found in '{root}' and the download failed "
                        f"({type(err).__name__}: {reason}); put {file} (unzipped) in that folder or in "
                        f"{os.path.join(root, name.upper())} (its .zip or .gz archive works too)") from None


def _load(name: str, root, split: str) -> SpikeDataset:
    if split not in SPLITS[name]:
        raise DataError(f"{name.upper()} has no '{split}' split; it has {', '.join(SPLITS[name])}")
    if root is None:
        raise DataError(f"no folder given for the {name.upper()} files; set data.path")
    root = os.fspath(root)
    file = f"{name}_{split}.h5"
    path = _find(root, name, file)
    if path is None:
        for ext in (".zip", ".gz"):
            archive = _find(root, name, file + ext)
            if archive is not None:
                path = _unpack(archive, file)
                break
    if path is None:
        _download(name, root, split, file)
        path = _find(root, name, file)
        if path is None:
            raise DataError(f"tonic finished but {file} is not in '{root}' or its {name.upper()} subfolder")
    data = load_h5(path)
    if data.num_classes > NUM_CLASSES[name]:
        raise DataError(f"'{path}' has labels up to {data.num_classes - 1}, but {name.upper()} has "
                        f"{NUM_CLASSES[name]} classes; is it the right file?")
    # every split gets all classes, also one that happens to miss the last labels
    data.num_classes = NUM_CLASSES[name]
    if data.class_names is None and name == "shd":
        data.class_names = list(SHD_CLASS_NAMES)
    return data


def load_shd(root, split: str) -> SpikeDataset:
    """SHD split 'train' or 'test' from the folder root (700 channels, 20 classes, speakers)."""
    return _load("shd", root, split)


def load_ssc(root, split: str) -> SpikeDataset:
    """SSC split 'train', 'valid' or 'test' from the folder root (700 channels, 35 classes)."""
    return _load("ssc", root, split)

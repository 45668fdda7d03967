"""Train/validation/test splits: at random, or by speaker for speaker-independent evaluation."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from genn_eventprop.data.dataset import SpikeDataset
from genn_eventprop.errors import DataError


def speaker_ids(dataset: SpikeDataset, speakers: Sequence) -> list:
    """Speaker names or ids to ids; an unknown one is a DataError listing the known ones."""
    if dataset.speakers is None:
        raise DataError("this dataset has no speaker information; split at random (validation.by: random)")
    known_ids = sorted(set(int(s) for s in dataset.speakers))
    names = dataset.speaker_names or []
    out = []
    for s in speakers:
        if isinstance(s, str) and s in names:
            out.append(names.index(s))
        elif isinstance(s, (int, np.integer)) and int(s) in known_ids:
            out.append(int(s))
        elif isinstance(s, str) and s.isdigit() and int(s) in known_ids:
            out.append(int(s))
        else:
            known = ", ".join(names) if names else ", ".join(map(str, known_ids))
            raise DataError(f"unknown speaker {s!r}; this dataset's speakers are: {known}")
    return out


def split_by_speakers(dataset: SpikeDataset, speakers: Sequence) -> Tuple[SpikeDataset, SpikeDataset]:
    """(everyone else, the given speakers)."""
    ids = speaker_ids(dataset, speakers)
    held = np.isin(dataset.speakers, ids)
    return dataset.subset(np.flatnonzero(~held)), dataset.subset(np.flatnonzero(held))


def split_validation(dataset: SpikeDataset, by: str = "random", fraction: float = 0.1, speakers: Sequence = (),
                     seed: int = 0) -> Tuple[SpikeDataset, SpikeDataset]:
    """(train, validation): a random fraction (rounded to whole samples; seeded), or the given speakers."""
    if by == "speaker":
        if not speakers:
            raise DataError("validation by speaker needs the speakers to hold out; set data.validation.speakers")
        return split_by_speakers(dataset, speakers)
    if by != "random":
        raise DataError(f"validation split 'by' must be random or speaker, got {by!r}")
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"the validation fraction must be at least 0 and below 1, got {fraction}")
    n = len(dataset)
    order = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(fraction * n))
    return dataset.subset(np.sort(order[n_valid:])), dataset.subset(np.sort(order[:n_valid]))

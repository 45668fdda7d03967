"""The config's data section (data.*): the dataset, its splits, augmentation, the audio encoder."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, List, Optional

from genn_eventprop.config.fields import choice, nested, positive, ranged


@dataclass
class Validation:
    by: str = choice("random", "random", "speaker", "none")
    fraction: float = ranged(0.1, 0.0, 1.0, high_open=True)
    speakers: List[Any] = field(default_factory=list)


@dataclass
class TestSplit:
    speakers: List[Any] = field(default_factory=list)


@dataclass
class Delay:
    count: int = ranged(0, 0)
    spacing: float = ranged(0.0, 0.0)


@dataclass
class Augment:
    shift: int = ranged(0, 0)
    blend: float = ranged(0.0, 0.0, 1.0)
    drop: float = ranged(0.0, 0.0, 1.0, high_open=True)   # probability that each input spike is deleted
    dilation: float = ranged(0.0, 0.0, 1.0)
    jitter: float = ranged(0.0, 0.0)
    delay: Delay = nested(Delay)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def active(self) -> bool:
        """Whether any augmentation is on: a key not 0 (for delay, its count). Read from the fields, so that
        a new key cannot be left out here."""
        return any(value.count if isinstance(value, Delay) else value
                   for value in (getattr(self, f.name) for f in dataclasses.fields(self)))


@dataclass
class Encoder:
    """The cochlea encoder of audio folders (genn_eventprop/data/cochlea.py)."""
    channels: int = ranged(700, 1)
    f_min: float = positive(50.0)
    f_max: Optional[float] = positive(None)      # null: 0.45 x the lowest sample rate
    bandwidth: float = positive(1.019)           # filter width in ERB: wider filters blur the harmonics of the voice's pitch
    compression: str = choice("log", "log", "cbrt")
    floor_db: float = ranged(-60.0, high=0.0, high_open=True)   # channels stay silent below this level (dB FS)
    max_rate: float = positive(50.0)             # spikes/s of a channel at full scale
    peak_db: Optional[float] = None              # normalise each recording's peak to this level (null: keep)

    def to_dict(self) -> dict:
        """The settings as CochleaEncoder's keyword arguments (its fields carry the same names)."""
        return dataclasses.asdict(self)


@dataclass
class YinYang:
    train_size: int = ranged(5000, 1)
    valid_size: int = ranged(1000, 0)
    test_size: int = ranged(1000, 0)


@dataclass
class TonicData:
    """data.kind: tonic (genn_eventprop/data/tonic_events.py)."""
    downsample: int = ranged(1, 1)               # spatial factor: d x d pixels share one input channel


@dataclass
class Data:
    kind: str = choice("yinyang", "shd", "ssc", "audio", "h5", "yinyang", "tonic")
    dataset: Optional[str] = None                # data.kind: tonic: the name of a tonic dataset (NMNIST, DVSGesture...)
    path: Optional[str] = None
    test_path: Optional[str] = None
    pattern: str = "{label}_{speaker}_{index}.wav"
    cache_dir: Optional[str] = None
    duration: Optional[float] = positive(None)
    same_length: bool = False          # every trial as long as the dataset's latest input spike (mlGeNN's example_timesteps)
    tail: float = ranged(20.0, 0.0)
    validation: Validation = nested(Validation)
    test: TestSplit = nested(TestSplit)
    augment: Augment = nested(Augment)
    encoder: Encoder = nested(Encoder)
    yinyang: YinYang = nested(YinYang)
    tonic: TonicData = nested(TonicData)

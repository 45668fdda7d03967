"""The whole config (Config): the top-level keys and the sections, in the order config.yaml is written."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List

from genn_eventprop.config.data_sections import Data
from genn_eventprop.config.fields import choice, nested, positive, ranged
from genn_eventprop.config.model_sections import Hidden, Model
from genn_eventprop.config.train_sections import Gradcheck, Train


@dataclass
class Config:
    seed: int = ranged(1, 0)                     # numpy's generators take seeds >= 0
    backend: str = choice("native", "native", "genn-cuda", "genn-cpu")
    dt: float = positive(1.0)
    # when a spike reaches its targets: exact (at its own time) or next_step (at the next grid point, as the
    # jump it has grown into by then: the model a time-stepped simulator such as GeNN can run)
    delivery: str = choice("exact", "exact", "next_step")
    precision: str = choice("float32", "float32", "float64")
    threads: int = ranged(0, 0)                  # 0: all cores
    data: Data = nested(Data)
    model: Model = nested(Model)
    train: Train = nested(Train)
    gradcheck: Gradcheck = nested(Gradcheck)

    @property
    def hidden_layers(self) -> List[Hidden]:
        return self.model.hidden_layers

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

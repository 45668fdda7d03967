"""A cochlea model that turns a waveform into input spikes, one channel per place along the cochlea.

Pipeline, per channel: a 4th-order complex gammatone filter (centre frequencies ERB-spaced after
Glasberg & Moore 1990), whose output magnitude is the envelope of the band; the envelope compressed
('log' or 'cbrt') and rectified above a floor level; an integrate-and-fire encoder that integrates
this drive as a firing rate and fires each time the integral passes a whole number. A channel whose
envelope stays below the floor is silent, and spike counts grow with loudness.

Spike times are interpolated between samples, in ms, sorted; channel 0 is the lowest frequency.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import numpy as np
from scipy.signal import sosfilt

from ..errors import ConfigError

COMPRESSIONS = ("log", "cbrt")

# Channels filtered together: bounds the memory of one block at (block, samples) complex values.
_CHANNEL_BLOCK = 64


def erb_bandwidth(frequency_hz):
    """Equivalent rectangular bandwidth (Hz) of the auditory filter at a frequency (Glasberg & Moore)."""
    return 24.7 * (4.37e-3 * np.asarray(frequency_hz, dtype=np.float64) + 1.0)


def erb_number(frequency_hz):
    """Position on the ERB-number scale (Cams): equal steps are equal distances along the cochlea."""
    return 21.4 * np.log10(1.0 + 4.37e-3 * np.asarray(frequency_hz, dtype=np.float64))


def erb_number_to_frequency(erbs):
    return (10.0 ** (np.asarray(erbs, dtype=np.float64) / 21.4) - 1.0) / 4.37e-3


def as_full_scale(waveform) -> np.ndarray:
    """A waveform as float64 with full scale at +-1 (integer PCM is divided by its type's range)."""
    x = np.asarray(waveform)
    if x.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        return (x.astype(np.float64) - 128.0) / 128.0
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / float(2 ** (8 * x.dtype.itemsize - 1))
    return x.astype(np.float64)


@dataclass(frozen=True)
class CochleaEncoder:
    """Settings of the audio-to-spikes encoder; `encode` applies them to one waveform.

    channels: number of cochlear channels (input neurons), SHD uses 700.
    f_min, f_max: centre frequencies of the lowest and highest channel (Hz); f_max None means
        0.45 x the sample rate (3.6 kHz for 8 kHz audio, 7.2 kHz for 16 kHz).
    bandwidth: filter bandwidth in ERBs (1.019 is the classic 4th-order gammatone).
    compression: 'log' (drive linear in dB above the floor) or 'cbrt' (cube root of the envelope).
    floor_db: envelope level, dB relative to full scale, below which a channel does not fire.
    max_rate: firing rate (Hz) of a channel whose envelope is at full scale (0 dB); the rate falls
        to 0 at the floor along the compression curve.
    peak_db: None keeps the recording's own level (louder sounds give more spikes); a number scales
        each waveform so that its peak is at this level (dB full scale), which evens out
        recordings made at different levels.
    envelope_rate: rate (Hz) at which the envelopes are sampled to drive the spike encoder; spike
        times are interpolated between these samples. 2 kHz resolves envelopes of all channels.
    remove_dc: subtract the waveform's mean first, so that a DC offset does not drive low channels.
    """

    channels: int = 700
    f_min: float = 50.0
    f_max: Optional[float] = None
    bandwidth: float = 1.019
    compression: str = "log"
    floor_db: float = -60.0
    max_rate: float = 50.0
    peak_db: Optional[float] = None
    envelope_rate: float = 2000.0
    remove_dc: bool = True

    def __post_init__(self):
        if int(self.channels) != self.channels or self.channels < 1:
            raise ConfigError(f"cochlea channels must be a positive integer, got {self.channels!r}")
        if not self.f_min > 0:
            raise ConfigError(f"cochlea f_min must be above 0 Hz, got {self.f_min!r}")
        if self.f_max is not None and not self.f_max > self.f_min:
            raise ConfigError(f"cochlea f_max ({self.f_max}) must be above f_min ({self.f_min})")
        if self.compression not in COMPRESSIONS:
            raise ConfigError(f"cochlea compression must be one of {', '.join(COMPRESSIONS)}, "
                              f"got {self.compression!r}")
        if not self.floor_db < 0:
            raise ConfigError(f"cochlea floor_db must be below 0 dB full scale, got {self.floor_db!r}")
        if not self.max_rate > 0:
            raise ConfigError(f"cochlea max_rate must be above 0 Hz, got {self.max_rate!r}")
        if self.peak_db is not None and not self.peak_db > self.floor_db:
            raise ConfigError(f"cochlea peak_db ({self.peak_db}) must be above floor_db ({self.floor_db})")
        if not self.envelope_rate > 0:
            raise ConfigError(f"cochlea envelope_rate must be above 0 Hz, got {self.envelope_rate!r}")
        if not self.bandwidth > 0:
            raise ConfigError(f"cochlea bandwidth must be above 0 ERB, got {self.bandwidth!r}")

    def settings(self) -> dict:
        """The settings as plain values (for configs, caches and run records)."""
        return asdict(self)

    def highest_frequency(self, sample_rate: float) -> float:
        return float(self.f_max) if self.f_max is not None else 0.45 * float(sample_rate)

    def centre_frequencies(self, sample_rate: float) -> np.ndarray:
        """Centre frequency (Hz) of each channel, ascending, equally spaced in ERB number."""
        f_max = self.highest_frequency(sample_rate)
        if not f_max < 0.5 * sample_rate:
            raise ConfigError(f"cochlea f_max ({f_max} Hz) must be below half the sample rate "
                              f"({0.5 * sample_rate} Hz); lower f_max or leave it unset")
        if not f_max > self.f_min:
            raise ConfigError(f"cochlea f_min ({self.f_min} Hz) must be below the highest channel "
                              f"frequency ({f_max} Hz at {sample_rate} Hz sampling); lower f_min")
        erbs = np.linspace(erb_number(self.f_min), erb_number(f_max), int(self.channels))
        return erb_number_to_frequency(erbs)

    def encode(self, waveform, sample_rate: float) -> Tuple[np.ndarray, np.ndarray]:
        """Spikes of one mono waveform: (times in ms float64 sorted, channel ids int32)."""
        x = as_full_scale(waveform)
        if x.ndim != 1:
            raise ValueError(f"encode takes a mono waveform (1-D), got shape {x.shape}")
        sample_rate = float(sample_rate)
        centres = self.centre_frequencies(sample_rate)
        if x.size < 2:
            return np.zeros(0, np.float64), np.zeros(0, np.int32)
        if self.remove_dc:
            x = x - x.mean()
        if self.peak_db is not None:
            peak = np.abs(x).max()
            if peak == 0:
                return np.zeros(0, np.float64), np.zeros(0, np.int32)
            x = x * (10.0 ** (self.peak_db / 20.0) / peak)
        step = self.envelope_step(sample_rate)
        times, units = [], []
        for start in range(0, len(centres), _CHANNEL_BLOCK):
            block = centres[start:start + _CHANNEL_BLOCK]
            envelope = self._envelopes(x, block, sample_rate, step)
            rate = self.max_rate * self._drive(envelope)
            t, u = _integrate_and_fire(rate, sample_rate / step, _start_phase(start, len(block)))
            times.append(t)
            units.append(u + start)
        times = np.concatenate(times)
        units = np.concatenate(units).astype(np.int32)
        order = np.lexsort((units, times))
        return times[order], units[order]

    def envelope_step(self, sample_rate: float) -> int:
        """Audio samples between two envelope samples."""
        return max(1, int(round(sample_rate / self.envelope_rate)))

    def _envelopes(self, x: np.ndarray, centres: np.ndarray, sample_rate: float,
                   step: int = 1) -> np.ndarray:
        """Band envelopes (channels, envelope samples): magnitude of each complex gammatone filter's
        output, taken every `step` audio samples.

        The filter is four identical complex one-pole stages, pole r*exp(i*2*pi*fc/fs) with
        r = exp(-2*pi*b/fs), b the bandwidth in Hz; each stage has gain 1 at fc. A real sine of
        amplitude A at fc gives a complex exponential of amplitude A/2, hence the factor 2.
        """
        bw = self.bandwidth * erb_bandwidth(centres)
        radius = np.exp(-2.0 * np.pi * bw / sample_rate)
        poles = radius * np.exp(2j * np.pi * centres / sample_rate)
        out = np.empty((len(centres), (len(x) + step - 1) // step), dtype=np.complex128)
        for c, (r, p) in enumerate(zip(radius, poles)):
            # Two biquads, each two of the four one-pole stages: (1 - p z^-1)^2.
            section = [0.0, 0.0, 0.0, 1.0, -2.0 * p, p * p]
            sos = np.array([section, section], dtype=np.complex128)
            sos[0, 0] = 2.0 * (1.0 - r) ** 4
            sos[1, 0] = 1.0
            out[c] = sosfilt(sos, x)[::step]
        return np.abs(out)

    def _drive(self, envelope: np.ndarray) -> np.ndarray:
        """Compressed, rectified envelope: 0 at or below the floor, 1 at full scale."""
        if self.compression == "log":
            level_db = 20.0 * np.log10(np.maximum(envelope, 1e-300))
            drive = (level_db - self.floor_db) / (-self.floor_db)
        else:
            floor = np.cbrt(10.0 ** (self.floor_db / 20.0))
            drive = (np.cbrt(envelope) - floor) / (1.0 - floor)
        return np.maximum(drive, 0.0)


def _start_phase(first_channel: int, count: int) -> np.ndarray:
    """Initial integrator charge (in spikes, in [0, 1)) of channels first_channel onwards.

    Integrators that all started empty would all wait 1/rate before their first spike, delaying
    every onset by tens of ms; charges spread evenly (golden-ratio sequence) over neighbouring
    channels let a population answer at once at a density that follows the drive.
    """
    channels = np.arange(first_channel, first_channel + count, dtype=np.float64)
    return np.mod((channels + 1.0) * 0.6180339887498949, 1.0)


def _integrate_and_fire(rate: np.ndarray, sample_rate: float,
                        start: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Spikes of perfect integrators driven by `rate` (Hz, channels x samples), starting with the
    charge `start` (in spikes, below 1).

    The integral (trapezoid rule, in spikes) fires a spike each time it passes a whole number;
    the crossing time is interpolated linearly between the two samples around it.
    Returns (times in ms, channel index in the block), unsorted.
    """
    step = 0.5 * (rate[:, 1:] + rate[:, :-1]) / sample_rate
    integral = np.empty_like(rate)
    integral[:, 0] = start
    np.cumsum(step, axis=1, out=integral[:, 1:])
    integral[:, 1:] += start[:, None]
    whole = np.floor(integral).astype(np.int64)
    new = np.diff(whole, axis=1)  # spikes fired between sample n and n + 1
    channel, sample = np.nonzero(new)
    counts = new[channel, sample]
    if counts.size == 0:
        return np.zeros(0, np.float64), np.zeros(0, np.int64)
    channel = np.repeat(channel, counts)
    sample = np.repeat(sample, counts)
    # The k-th spike of a step crosses level whole[n] + k (k = 1..count).
    first = np.cumsum(counts) - counts
    k = np.arange(counts.sum()) - np.repeat(first, counts) + 1
    level = whole[channel, sample] + k
    before = integral[channel, sample]
    after = integral[channel, sample + 1]
    fraction = (level - before) / (after - before)
    times_ms = (sample + fraction) * (1000.0 / sample_rate)
    return times_ms, channel

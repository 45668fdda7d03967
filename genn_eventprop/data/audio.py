"""A folder of WAV recordings turned into a SpikeDataset through the cochlea encoder, with a cache.

Labels and speakers come from the file names, described by a pattern such as
"{label}_{speaker}_{index}.wav". Encoding is slow next to training an epoch, so the spikes are
saved once as an SHD-layout HDF5 file whose name is a hash of the encoder settings and of each
file's name, size and modification time; a later call with the same settings and files reads it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy.io import wavfile

from ..errors import ConfigError, DataError, DataWarning
from ..progress import bar
from .cochlea import CochleaEncoder, as_full_scale
from .dataset import SpikeDataset
from .h5 import load_h5, save_h5

# Bump when the encoder's output changes for the same settings, so old caches are not reused.
CACHE_VERSION = 2   # 2: multi-channel files are mixed down to mono (1 read their first channel)

# Below this many files a process pool costs more to start than it saves.
_MIN_FILES_FOR_POOL = 64

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genn_eventprop"


def pattern_regex(pattern: str) -> re.Pattern:
    """A regex for a file-name pattern: {label} and {speaker} are captured, other fields match
    any non-empty text without '/', the rest is literal."""
    parts, pos, seen = [], 0, set()
    for m in _FIELD.finditer(pattern):
        parts.append(re.escape(pattern[pos:m.start()]))
        name = m.group(1)
        if name in ("label", "speaker"):
            if name in seen:
                raise ConfigError(f"pattern {pattern!r} names {{{name}}} twice; name it once")
            seen.add(name)
            parts.append(f"(?P<{name}>[^/]+?)")
        else:
            parts.append(r"[^/]+?")
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    if "label" not in seen:
        raise ConfigError(f"pattern {pattern!r} has no {{label}} field; write where the label is in "
                          "the file names, e.g. \"{label}_{speaker}_{index}.wav\"")
    return re.compile("".join(parts))


def _read(path, mmap: bool = False):
    """scipy's read, with the warning that the file ends before its header says turned into a flag."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", wavfile.WavFileWarning)
        rate, data = wavfile.read(str(path), mmap=mmap)
    truncated = any("prematurely" in str(w.message) for w in caught)
    return int(rate), data, truncated


def read_wav(path) -> Tuple[int, np.ndarray]:
    """(sample rate, mono waveform at full scale +-1); a multi-channel file is mixed down (the mean of its
    channels). A file cut short is read up to where it ends (load_audio_folder warns about it)."""
    try:
        rate, data, _ = _read(path)
    except Exception as err:  # scipy raises ValueError, EOFError, struct.error... on a bad file
        raise DataError(f"{path} is not a readable WAV file ({err}); re-export it as PCM WAV "
                        "or remove it from the folder") from None
    waveform = as_full_scale(data)
    if waveform.ndim == 2:
        waveform = waveform.mean(axis=1)
    return int(rate), waveform


def wav_header(path) -> Tuple[int, int, bool]:
    """(sample rate, channels, cut short) of a WAV file, reading only its header where it can."""
    try:
        rate, data, truncated = _read(path, mmap=True)   # a memory map reads the header only
    except Exception:   # a file cut short, or a format a map cannot serve (e.g. 24-bit): read it all
        try:
            rate, data, truncated = _read(path)
        except Exception as err:
            raise DataError(f"{path} is not a readable WAV file ({err}); re-export it as PCM WAV "
                            "or remove it from the folder") from None
    return rate, (data.shape[1] if data.ndim == 2 else 1), truncated


def _encode_file(job: Tuple[str, CochleaEncoder]):
    """(times, units) of one file, or None when its samples are not all finite (NaN or infinity)."""
    path, encoder = job
    rate, waveform = read_wav(path)
    if not np.isfinite(waveform).all():
        return None
    return encoder.encode(waveform, rate)


def _match_files(folder: Path, pattern: str):
    """Sorted (relative path, label text, speaker text or None) of matching files; skipped count."""
    regex = pattern_regex(pattern)
    if "/" in pattern:
        candidates = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    else:
        candidates = sorted(p.name for p in folder.iterdir() if p.is_file())
    matched, skipped = [], 0
    for rel in candidates:
        m = regex.fullmatch(rel)
        if m is None:
            skipped += 1
            continue
        matched.append((rel, m.group("label"), m.groupdict().get("speaker")))
    return matched, skipped


def _label_ids(texts: Sequence[str], class_names: Optional[Sequence[str]]):
    """(label ids, class names). Integer labels are their own ids; names are sorted unless given."""
    all_integers = all(re.fullmatch("[0-9]+", t) for t in texts)
    if class_names is not None:
        names = [str(c) for c in class_names]
        index = {n: i for i, n in enumerate(names)}
        if all(t in index for t in texts):
            return np.array([index[t] for t in texts], dtype=np.int64), names
        if all_integers and max(int(t) for t in texts) < len(names):
            return np.array([int(t) for t in texts], dtype=np.int64), names
        unknown = sorted(set(t for t in texts if t not in index))
        raise DataError(f"labels {unknown[:10]} in the file names are not among class_names {names}; "
                        "add them to class_names or leave class_names unset")
    if all_integers:
        ids = np.array([int(t) for t in texts], dtype=np.int64)
        return ids, [str(i) for i in range(int(ids.max()) + 1)]
    names = sorted(set(texts))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[t] for t in texts], dtype=np.int64), names


def _cache_key(folder: Path, rels: List[str], encoder: CochleaEncoder) -> str:
    files = []
    for rel in rels:
        st = (folder / rel).stat()
        files.append([rel, st.st_size, st.st_mtime_ns])
    blob = json.dumps({"version": CACHE_VERSION, "encoder": encoder.settings(), "files": files},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _few(folder: Path, rels: List[str]) -> str:
    return ", ".join(str(folder / r) for r in rels[:2]) + (" ..." if len(rels) > 2 else "")


def _check_headers(folder: Path, rels: List[str], encoder: CochleaEncoder) -> CochleaEncoder:
    """Read every header: warn (one line each, with the count) about files cut short or with several
    channels; refuse sample rates that would change or break the cochlea's channels; fix an unset f_max
    from the sample rate, so every file is encoded on the same channels."""
    headers = [wav_header(folder / rel) for rel in rels]
    cut = [rel for rel, h in zip(rels, headers) if h[2]]
    if cut:
        warnings.warn(DataWarning(f"{len(cut)} WAV file(s) in {folder} end before their header says (cut short): "
                                  f"{_few(folder, cut)}; they are used up to where they end; re-export them or "
                                  "remove them to train on whole recordings"))
    multi = [rel for rel, h in zip(rels, headers) if h[1] > 1]
    if multi:
        warnings.warn(DataWarning(f"{len(multi)} WAV file(s) in {folder} have more than one channel: "
                                  f"{_few(folder, multi)}; each is mixed down to mono (the mean of its channels)"))
    rates = np.array([h[0] for h in headers])
    if encoder.f_max is not None:
        low = [rel for rel, r in zip(rels, rates) if not encoder.f_max < 0.5 * r]
        if low:
            r = int(min(rates))
            raise DataError(f"{len(low)} WAV file(s) in {folder} are sampled too slowly for data.encoder.f_max="
                            f"{encoder.f_max:g} Hz (it must be below half the sample rate, {r / 2:g} Hz for {r} Hz): "
                            f"{_few(folder, low)}; lower data.encoder.f_max, or resample or remove those files")
        return encoder
    if rates.min() != rates.max():
        low = [rel for rel, r in zip(rels, rates) if r == rates.min()]
        r, top = int(rates.min()), int(rates.max())
        raise DataError(f"{len(low)} WAV file(s) in {folder} are sampled at {r} Hz, below the others (up to {top} "
                        f"Hz): {_few(folder, low)}; with data.encoder.f_max unset they would lower the cochlea's top "
                        f"channel to {encoder.highest_frequency(r):g} Hz for every file: resample or remove them, "
                        f"or set data.encoder.f_max (below {r / 2:g} Hz to keep them)")
    return replace(encoder, f_max=encoder.highest_frequency(int(rates[0])))


def _encode_all(folder: Path, rels: List[str], encoder: CochleaEncoder, workers: int):
    jobs = [(str(folder / rel), encoder) for rel in rels]
    if workers > 1 and len(jobs) >= _MIN_FILES_FOR_POOL:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(bar(pool.map(_encode_file, jobs, chunksize=16), "cochlea encoding", total=len(jobs),
                               unit="file"))
    else:
        results = [_encode_file(job) for job in bar(jobs, "cochlea encoding", unit="file")]
    bad = [rel for rel, r in zip(rels, results) if r is None]
    if bad:
        raise DataError(f"{len(bad)} WAV file(s) in {folder} have NaN or infinite samples: {_few(folder, bad)}; "
                        "re-export them or remove them from the folder")
    return [r[0] for r in results], [r[1] for r in results]


def _read_cache(cache_file: Path, count: int):
    """(times, units) from a cache file, or None when it is missing or unreadable."""
    if not cache_file.is_file():
        return None
    try:
        cached = load_h5(str(cache_file))
    except Exception as err:  # a cache cut short by a killed run: encode again
        warnings.warn(f"ignoring unreadable spike cache {cache_file} ({err}); encoding again")
        return None
    if len(cached) != count:
        return None
    return cached.times, cached.units


def _write_cache(dataset: SpikeDataset, cache_file: Path) -> None:
    try:
        save_h5(dataset, str(cache_file))  # atomic: readers never see a half-written cache
    except OSError as err:
        warnings.warn(f"could not write the spike cache {cache_file} ({err}); set cache_dir to a "
                      "writable folder to avoid encoding again next time")


def load_audio_folder(path, pattern: str = "{label}_{speaker}_{index}.wav",
                      encoder: Optional[CochleaEncoder] = None, cache_dir=None,
                      class_names: Optional[Sequence[str]] = None,
                      workers: Optional[int] = None) -> SpikeDataset:
    """Encode every file of `path` whose name matches `pattern` into spikes.

    pattern: file names relative to `path` with {label} (required), {speaker} (optional) and any
        other {field} (ignored); a '/' in it searches sub-folders. Files that do not match are
        skipped, with one warning giving their number.
    encoder: CochleaEncoder settings (default CochleaEncoder()). An unset f_max is fixed from the
        lowest sample rate in the folder.
    cache_dir: where encoded spikes are cached (default ~/.cache/genn_eventprop).
    class_names: order of the classes; labels are looked up in it by name, or used as indices
        when they are integers. Unset: integer labels are their own ids, names are sorted.
    workers: processes that encode (default: the CPUs this process may use).
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"audio folder {folder} does not exist or is not a folder; set data.path "
                        "to the folder that holds the recordings")
    encoder = encoder if encoder is not None else CochleaEncoder()
    matched, skipped = _match_files(folder, pattern)
    if not matched:
        raise DataError(f"no file in {folder} matches the pattern {pattern!r}; set data.pattern to "
                        "describe the file names, e.g. \"{label}_{speaker}_{index}.wav\"")
    if skipped:
        warnings.warn(f"{skipped} file(s) in {folder} do not match the pattern {pattern!r} and were "
                      "skipped")
    rels = [m[0] for m in matched]
    labels, names = _label_ids([m[1] for m in matched], class_names)
    speakers = speaker_names = None
    if matched[0][2] is not None:
        speaker_names = sorted(set(m[2] for m in matched))
        index = {n: i for i, n in enumerate(speaker_names)}
        speakers = np.array([index[m[2]] for m in matched], dtype=np.int64)

    cache_file = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache_file = cache_file / f"audio-{folder.name}-{_cache_key(folder, rels, encoder)}.h5"
    resolved = _check_headers(folder, rels, encoder)
    cached = _read_cache(cache_file, len(rels))
    if cached is not None:
        times, units = cached
    else:
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        times, units = _encode_all(folder, rels, resolved, max(1, int(workers or 1)))
    dataset = SpikeDataset(
        times=list(times), units=list(units), labels=labels, num_channels=resolved.channels,
        num_classes=len(names), speakers=speakers, class_names=names, speaker_names=speaker_names,
        extra={"files": rels, "encoder": resolved.settings(), "cache_file": str(cache_file)},
    )
    if cached is None:
        _write_cache(dataset, cache_file)
    return dataset

"""Save, restore and grow a DetectorBank (pure: numpy only).

Every per-series quantity of a bank (and of its forests) is a numpy array whose first axis
is the series, so a snapshot is those arrays in one compressed .npz, and growing a bank is
concatenating a fresh bank's arrays. ``params_digest`` ties a snapshot to the parameters
and feature set that produced it: after a change of either, the state is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import asdict

import numpy as np

from .detector import FEATURES, DetectorBank
from .params import DEFAULT_PARAMS, DetectorParams


def params_digest(params: DetectorParams = DEFAULT_PARAMS) -> str:
    text = repr((sorted(asdict(params).items()), FEATURES))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _arrays(bank: DetectorBank) -> dict[str, np.ndarray]:
    found = {f"bank.{k}": v for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    found.update({f"forest.{k}": v for k, v in vars(bank.forest).items() if isinstance(v, np.ndarray)})
    return found


COMPRESS_LEVEL = 1  # half the time of savez_compressed's default level for ~10% more bytes


def dump(bank: DetectorBank, keys: list[str]) -> bytes:
    """The bank's arrays plus ``keys``, the caller's name for each series (row): an .npz that np.load reads."""
    if len(keys) != bank.n_series:
        raise ValueError(f"{len(keys)} keys for {bank.n_series} series")
    buffer = io.BytesIO()
    arrays = {"keys": np.array(keys, dtype=str), **_arrays(bank)}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def load(blob: bytes, params: DetectorParams = DEFAULT_PARAMS) -> tuple[DetectorBank, list[str]]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        keys = [str(k) for k in data["keys"]]
        n = len(keys)
        bank = DetectorBank(n, params)
        for name, array in _arrays(bank).items():
            stored = data[name]
            if stored.shape != array.shape or stored.dtype != array.dtype:
                raise ValueError(f"snapshot array {name} is {stored.dtype}{stored.shape}, "
                                 f"expected {array.dtype}{array.shape}")
            array[...] = stored
    return bank, keys


def grow(bank: DetectorBank, extra: int, seeds=None) -> DetectorBank:
    """A bank with ``extra`` new, empty series after the existing ones (which keep their state)."""
    if extra <= 0:
        return bank
    fresh = DetectorBank(extra, bank.params, seeds=seeds)
    grown = DetectorBank(0, bank.params)
    old, new = _arrays(bank), _arrays(fresh)
    for name, array in _arrays(grown).items():
        owner, attr = name.split(".", 1)
        target = grown if owner == "bank" else grown.forest
        setattr(target, attr, np.concatenate([old[name], new[name]]))
    grown.n_series = bank.n_series + extra
    return grown

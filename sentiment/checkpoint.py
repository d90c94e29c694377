"""Reading and writing a run folder's files, with one-line errors for anything wrong in them.

A run folder (``python -m sentiment train --out-dir RUN``) holds

* ``model.pt`` — the best model's ``state_dict``, read back with
  ``torch.load(weights_only=True)`` (no code is run);
* ``meta.json`` — its configuration, vocabulary, training options, metrics
  and ``model_sha256``, the SHA-256 of ``model.pt``;
* ``last.pt`` — the last epoch's model, optimiser and bookkeeping (``--resume``);
* ``summary.json`` — the training summary; ``train.lock`` — the training lock.

Every problem a user can cause (a truncated or foreign ``model.pt``, tensors
that do not fit ``meta.json``, malformed JSON, missing or mistyped keys) is a
:class:`CheckpointError`: ``<file>: <what is wrong> (expected …)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os

import torch

from dynamics.cli import write_atomic
from dynamics.errors import InputError

from .model import ClusteringClassifier
from .runs import short_hash
from .text import PAD, TRUNCATIONS, UNK

__all__ = ["CheckpointError", "save_state", "read_json", "read_meta", "load_state", "check_state", "load_model",
           "ORIGIN"]

#: Who writes these files: named in every message about a bad one.
ORIGIN = "written by python -m sentiment train"


class CheckpointError(InputError):
    """A run folder's file is missing, unreadable or inconsistent (one-line message)."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


#: key -> (test, what it must be); for meta.json, its "model" and its "train" sections.
_META = {"model": (lambda v: isinstance(v, dict), "an object"),
         "train": (lambda v: isinstance(v, dict), "an object"),
         "vocab": (lambda v: isinstance(v, list) and len(v) >= 2 and v[:2] == [PAD, UNK]
                   and all(isinstance(w, str) for w in v), f"a list of words starting with {PAD}, {UNK}"),
         "best_epoch": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
         "val_accuracy": (_is_number, "a number"),
         "alpha": (_is_number, "a number")}
_MODEL = {"vocab_size": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
          "dim": (lambda v: _is_int(v) and 1 <= v <= 4096, "an integer in 1..4096"),
          "depth": (lambda v: _is_int(v) and 0 <= v <= 1000, "an integer in 0..1000"),
          "tau": (lambda v: _is_number(v) and v > 0, "a number > 0"),
          "mask_pads": (lambda v: isinstance(v, bool), "true or false")}
_TRAIN = {"min_count": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
          "max_vocab": (lambda v: v is None or (_is_int(v) and v >= 1), "null or an integer >= 1")}
_TRAIN_OPTIONAL = {"truncate": (lambda v: v in TRUNCATIONS, f"one of {', '.join(TRUNCATIONS)}"),
                   "lemmatize": (lambda v: isinstance(v, bool), "true or false"),
                   "keep_negations": (lambda v: isinstance(v, bool), "true or false"),
                   "cache_dir": (lambda v: v is None or isinstance(v, str), "null or a path")}


def _describe(value) -> str:
    """A short rendering of a bad value for a message."""
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:39] + "…"


def _check_keys(document: dict, schema: dict, path: str, prefix: str = "", required: bool = True) -> None:
    """Every key of ``schema`` present (when ``required``) and passing its test, else :class:`CheckpointError`."""
    for key, (test, what) in schema.items():
        if key not in document:
            if required:
                raise CheckpointError(f"{path}: missing key {prefix + key!r} (expected {what}; meta.json is {ORIGIN})")
            continue
        if not test(document[key]):
            raise CheckpointError(f"{path}: key {prefix + key!r} is {_describe(document[key])} (expected {what})")


def read_json(path: str, what: str) -> dict:
    """A JSON object from ``path``; :class:`CheckpointError` if it is unreadable, not JSON or not an object."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text (expected {what})") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}) "
                              f"(expected {what})") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"{path}: a JSON {type(document).__name__} (expected {what})")
    return document


def read_meta(path: str) -> dict:
    """``meta.json``, checked: the keys the analyses use exist and have the right types and ranges."""
    meta = read_json(path, f"the JSON object {ORIGIN}")
    _check_keys(meta, _META, path)
    _check_keys(meta["model"], _MODEL, path, "model.")
    _check_keys(meta["train"], _TRAIN, path, "train.")
    _check_keys(meta["train"], _TRAIN_OPTIONAL, path, "train.", required=False)
    if len(meta["vocab"]) != meta["model"]["vocab_size"]:
        raise CheckpointError(f"{path}: 'vocab' has {len(meta['vocab'])} words (expected model.vocab_size = "
                              f"{meta['model']['vocab_size']})")
    sha = meta.get("model_sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
        raise CheckpointError(f"{path}: key 'model_sha256' is {_describe(sha)} (expected 64 hex digits)")
    return meta


def save_state(path: str, state: dict) -> str:
    """Write ``torch.save(state)`` atomically; return the SHA-256 of the bytes written."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    content = buffer.getvalue()
    write_atomic(path, content)
    return hashlib.sha256(content).hexdigest()


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # torch's long weights-only message: keep its core
        core = (text.split("WeightsUnpickler error:", 1)[1].strip().splitlines() or [""])[0].split(". ")[0]
        if core.startswith("Unsupported global"):
            return f"it holds objects other than tensors, refused by torch.load(weights_only=True): {core[:80]}"
        text = core
    elif isinstance(exc, EOFError):
        text = "the file is empty or truncated"
    text = " ".join(text.split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 120 else text[:119] + "…"


def load_state(path: str, expected: str) -> tuple[object, str]:
    """``torch.load(weights_only=True)`` of a file, and the SHA-256 of the very bytes loaded.

    Parameters
    ----------
    path : str
        A ``model.pt`` or ``last.pt``.
    expected : str
        What the file should be (named in the message).

    Returns
    -------
    (object, str)
        What ``torch.load`` returned, and the file's SHA-256.

    Raises
    ------
    CheckpointError
        ``torch.load`` refused the file (truncated, garbage, or holding more than tensors).
    """
    with open(path, "rb") as handle:
        content = handle.read()
    try:
        state = torch.load(io.BytesIO(content), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many types for a truncated, garbage or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({_load_failure(exc)}) (expected {expected})") \
            from None
    return state, hashlib.sha256(content).hexdigest()


def check_state(state: object, model: ClusteringClassifier, path: str, context: str) -> dict:
    """``state`` must be a state_dict with exactly ``model``'s tensor names and shapes.

    Parameters
    ----------
    state : object
        What ``torch.load`` returned.
    model : ClusteringClassifier
        A model built from the run's configuration.
    path : str
        The checkpoint file (named in the message).
    context : str
        Where the expected shapes come from (e.g. ``"meta.json's vocab_size 12, dim 4"``).

    Returns
    -------
    dict
        ``state``, now known to fit ``model.load_state_dict``.
    """
    expected = model.state_dict()
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: a {type(state).__name__}, not a state_dict of tensors "
                              f"(expected the tensors {', '.join(expected)})")
    missing = [name for name in expected if name not in state]
    extra = [str(name) for name in state if name not in expected]
    if missing or extra:
        what = f"no tensor {missing[0]!r}" if missing else f"an unexpected tensor {extra[0]!r}"
        raise CheckpointError(f"{path}: {what} (expected the tensors {', '.join(expected)})")
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(state[name].shape)} (expected "
                                  f"{tuple(tensor.shape)} from {context})")
        if not state[name].is_floating_point():
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {state[name].dtype} (expected float32)")
    return state


def load_model(out_dir: str) -> tuple[ClusteringClassifier, dict]:
    """The best model of a run folder and its metadata (``weights_only=True``: no code is run).

    Parameters
    ----------
    out_dir : str
        A run folder written by ``python -m sentiment train``.

    Returns
    -------
    (ClusteringClassifier, dict)
        The model in eval mode, and ``meta.json`` with ``model_sha256`` set to
        the SHA-256 of the ``model.pt`` that was loaded.

    Raises
    ------
    CheckpointError
        A file is missing, unreadable or inconsistent with the other
        (including a ``model.pt`` whose hash is not the one ``meta.json`` records).
    """
    meta_path, model_path = os.path.join(out_dir, "meta.json"), os.path.join(out_dir, "model.pt")
    if not (os.path.isfile(meta_path) and os.path.isfile(model_path)):
        raise CheckpointError(f"{out_dir}: not a trained run (needs model.pt and meta.json; run "
                              "`python -m sentiment train`)")
    meta = read_meta(meta_path)
    config = {k: meta["model"][k] for k in _MODEL}
    state, sha = load_state(model_path, f"the model state_dict {ORIGIN}")
    with torch.device("meta"):  # shapes only: nothing is allocated before the file is known to fit
        skeleton = ClusteringClassifier(**config)
    check_state(state, skeleton, model_path,
                f"meta.json's vocab_size {config['vocab_size']}, dim {config['dim']}")
    if meta.get("model_sha256") not in (None, sha):
        raise CheckpointError(f"{model_path}: sha256 {short_hash(sha)}… is not the model meta.json describes "
                              f"(expected {short_hash(meta['model_sha256'])}…; a training may be writing into "
                              f"{out_dir}, or was interrupted: finish it with `train --resume`)")
    model = ClusteringClassifier(**config)
    model.load_state_dict(state)
    model.eval()
    return model, meta | {"model_sha256": sha}

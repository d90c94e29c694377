"""The training recipes ``python -m sentiment train --recipe`` starts from (no torch import: the CLI's
parser uses them)."""

from __future__ import annotations

from dynamics.errors import InputError

__all__ = ["RECIPES", "PROTOCOLS", "recipe"]

#: The recipes ``train`` starts from (``--recipe``); any option given explicitly overrides its value.
RECIPES = ("validated", "paper")
#: The evaluation protocols (``--protocol``; :class:`sentiment.train.TrainConfig`): what is trained on, what
#: is tested on, and what chooses the epoch.
PROTOCOLS = ("ours", "paper")


def recipe(name: str, dim: int) -> dict:
    """The :class:`TrainConfig` fields of a recipe at dimension ``dim``.

    ``"paper"``: the paper's (:class:`TrainConfig`'s defaults: Adam lr 1e-3, pads kept as tokens, the
    first 128 tokens, lemmas, 100 epochs with patience 5). ``"validated"``: the settings chosen on
    validation accuracy (held-out movies) behind the published numbers: pads masked, negations kept, the
    10,000 most frequent words, the last 128 tokens, 30 epochs with patience 3, and Adam lr 1e-2 decayed
    by 0.85 per epoch for d ≤ 4; for d ≥ 8 lr 5e-3 decayed by 0.7, token dropout 0.3, decoupled weight
    decay 0.05 and no lemmas (simplemma maps best → good, worst → bad).
    """
    if name == "paper":
        return {}
    if name != "validated":
        raise InputError(f"--recipe: {name!r} (expected one of {', '.join(RECIPES)})")
    common = {"mask_pads": True, "keep_negations": True, "max_vocab": 10000, "truncate": "tail", "epochs": 30,
              "patience": 3}
    if dim <= 4:
        return common | {"lr": 1e-2, "lr_decay": 0.85}
    return common | {"lr": 5e-3, "lr_decay": 0.7, "token_dropout": 0.3, "weight_decay": 0.05, "lemmatize": False}

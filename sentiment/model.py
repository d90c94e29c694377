"""The paper's interpretable classifier (SPEC §6), built on the ``dynamics`` torch backend.

    ids (B × 128) --embedding--> Z⁰ ∈ R^{B × 128 × d}
    Z^{k+1} = layer(Z^k)  for k < 8: one shared attention sublayer, A = I,
              values α·I, normalisation 1/(1+α), α learnable (init U(0, 1));
              softmax with temperature τ = 0.001 for training, hardmax for analysis
    logit   = v · mean_i z_i^8 + b        (probability = sigmoid(logit))

The layers *are* :func:`dynamics.backends.torch_.run_layers`: there is no second
copy of the dynamics. ``mask_pads=True`` removes ``<PAD>`` tokens as keys
and from the mean (the paper keeps them in both).
"""

from __future__ import annotations

import torch
from torch import nn

from dynamics.backends.torch_ import layer, run_layers
from dynamics.errors import InputError

__all__ = ["ClusteringClassifier"]


class ClusteringClassifier(nn.Module):
    """Embedding -> ``depth`` shared hardmax/softmax attention layers -> mean -> linear."""

    def __init__(self, vocab_size: int, dim: int, depth: int = 8, tau: float = 1e-3, mask_pads: bool = False):
        super().__init__()
        if vocab_size < 2 or dim < 1 or depth < 0 or not tau > 0:
            raise InputError("need vocab_size >= 2, dim >= 1, depth >= 0 and tau > 0")
        self.dim, self.depth, self.tau, self.mask_pads = dim, depth, tau, mask_pads
        self.embedding = nn.Embedding(vocab_size, dim)
        self.alpha = nn.Parameter(torch.rand(()))
        self.decoder = nn.Linear(dim, 1)

    def config(self) -> dict:
        return {"vocab_size": self.embedding.num_embeddings, "dim": self.dim, "depth": self.depth,
                "tau": self.tau, "mask_pads": self.mask_pads}

    def _mask(self, ids: torch.Tensor) -> torch.Tensor | None:
        return (ids != 0) if self.mask_pads else None

    def pooled(self, Z: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Mean over tokens (over real tokens only when ``mask_pads``)."""
        if not self.mask_pads:
            return Z.mean(dim=1)
        mask = (ids != 0).to(Z.dtype)[..., None]
        return (Z * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    def forward(self, ids: torch.Tensor, rule: str = "softmax") -> torch.Tensor:
        """Logits of shape ``(B,)``; ``rule="hardmax"`` runs the paper's hardmax dynamics."""
        Z = self.embedding(ids)
        Z = run_layers(Z, [(None, self.alpha)], self.depth, rule=rule, tau=self.tau, mask=self._mask(ids), chunk=0)
        return self.decoder(self.pooled(Z, ids)).squeeze(-1)

    @torch.no_grad()
    def trajectory(self, ids: torch.Tensor, rule: str = "hardmax"):
        """States ``Z^0 … Z^depth`` and per-layer boolean argmax masks (the float follow sets)."""
        Z = self.embedding(ids)
        heads = [(None, self.alpha)]
        states, winners = [Z], []
        for _ in range(self.depth + 1):
            Z_next, W = layer(Z, heads, rule=rule, tau=self.tau, mask=self._mask(ids), return_winners=True)
            winners.append(W[0])
            states.append(Z_next)
            Z = Z_next
        return states[:-1], winners

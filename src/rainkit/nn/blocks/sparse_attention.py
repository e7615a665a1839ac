"""Top-k sparse transposed attention (TKSA), DRSformer's self-attention."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn.blocks.transposed_attention import MultiDconvTransposedAttention

__all__ = ["TopKSparseAttention", "top_k_attention_map", "top_k_sizes"]

#: DRSformer's four kept fractions, as (numerator, denominator): 1/2, 2/3, 3/4, 4/5.
DRSFORMER_FRACTIONS: tuple[tuple[int, int], ...] = ((1, 2), (2, 3), (3, 4), (4, 5))


def top_k_sizes(channels: int, fractions: Sequence[tuple[int, int]] = DRSFORMER_FRACTIONS
                ) -> tuple[int, ...]:
    """How many entries of each row DRSformer keeps: ``int(C * n / m)`` per fraction
    :math:`n / m`, **truncated** (computed exactly in integers; ``round`` would change the
    network's output).

    Example:
        >>> top_k_sizes(48), top_k_sizes(16)
        ((24, 32, 36, 38), (8, 10, 12, 12))
    """
    return tuple(channels * n // m for n, m in fractions)


def top_k_attention_map(logits: torch.Tensor, sizes: Sequence[int],
                        weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """A weighted sum of softmaxes, each over the ``k`` largest logits of its row.

    .. math::

        A = \\sum_{i} w_i \\, \\mathrm{softmax}\\big(\\mathcal{M}_{k_i}(L)\\big), \\qquad
        \\mathcal{M}_k(L)_{rs} = \\begin{cases} L_{rs} & L_{rs} \\text{ among the } k
        \\text{ largest of row } r \\\\ -\\infty & \\text{otherwise} \\end{cases}

    Args:
        logits: :math:`(\\ldots, d, d)`.
        sizes: the :math:`k_i`, each in :math:`[1, d]`.
        weights: the :math:`w_i`, tensors that broadcast to ``logits`` (DRSformer: one
            learnt scalar each, shape :math:`(1,)`).

    Returns:
        :math:`(\\ldots, d, d)`; rows sum to :math:`\\sum_i w_i`.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[0.0, 1.0, 2.0]])
        >>> top_k_attention_map(logits, [1, 3], [torch.tensor(0.5), torch.tensor(0.5)])
        tensor([[0.0450, 0.1224, 0.8326]])
    """
    if len(sizes) == 0 or len(sizes) != len(weights):
        raise ValueError(f"sizes and weights must be non-empty and of the same length, got "
                         f"{len(sizes)} and {len(weights)}")
    out: torch.Tensor | None = None
    for size, weight in zip(sizes, weights):
        index = logits.topk(size, dim=-1).indices
        keep = torch.zeros_like(logits).scatter_(-1, index, 1.0)
        part = torch.where(keep > 0, logits, torch.full_like(logits, float("-inf")))
        part = part.softmax(dim=-1) * weight
        out = part if out is None else out + part
    return out  # type: ignore[return-value]  # not None: sizes is not empty


class TopKSparseAttention(MultiDconvTransposedAttention):
    """Top-k sparse attention (TKSA) of DRSformer: MDTA whose channel-attention map keeps only
    the largest similarities of each row, at four sparsities mixed by learnt weights.

    .. math::

        y = W_o^{1\\times 1} \\Big(\\sum_{i=1}^{4} w_i \\,
        \\mathrm{softmax}\\big(\\mathcal{M}_{k_i}(\\tau \\hat{Q}\\hat{K}^\\top)\\big)\\Big) V

    with :math:`Q, K, V`, :math:`\\tau` and :math:`W_o` as in
    :class:`~rainkit.nn.blocks.MultiDconvTransposedAttention`, :math:`\\mathcal{M}_k` the
    top-:math:`k` mask of :func:`top_k_attention_map`, :math:`k_i = \\lfloor d \\, r_i \\rfloor`
    for :math:`r = 1/2, 2/3, 3/4, 4/5` of the :math:`d` channels of a head
    (:func:`top_k_sizes`) and :math:`w_i` the parameters ``attn1`` ... ``attn4`` (initially
    0.2). The four maps act on the same :math:`V`, so their weighted sum is formed first and
    folded into the projection: one product with :math:`V` instead of four. Parameter names are
    the authors'.

    Args:
        channels: :math:`C`, a multiple of ``num_heads`` with at least 2 channels per head.
        num_heads: number of heads.
        bias: whether the convolutions have biases (DRSformer: ``False``).
        fractions: the kept fractions as ``(numerator, denominator)`` pairs (DRSformer's four
            by default); one weight ``attn<i>`` each.

    Shape:
        - Input: :math:`(B, C, H, W)`, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`; every pixel depends on the whole input.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import TopKSparseAttention
        >>> attn = TopKSparseAttention(48, num_heads=1)
        >>> attn.top_k, attn(torch.rand(1, 48, 8, 8)).shape
        ((24, 32, 36, 38), torch.Size([1, 48, 8, 8]))

    References:
        X. Chen, H. Li, M. Li, J. Pan, "Learning A Sparse Transformer Network for Effective
        Image Deraining", CVPR 2023, Sec. 3.2.
    """

    def __init__(self, channels: int, num_heads: int = 1, *, bias: bool = False,
                 fractions: Sequence[tuple[int, int]] = DRSFORMER_FRACTIONS) -> None:
        super().__init__(channels, num_heads, bias=bias)
        try:
            pairs = tuple((check_int(n, "numerator", minimum=1),
                           check_int(m, "denominator", minimum=1)) for n, m in fractions)
        except (TypeError, ValueError) as err:
            raise ValueError(f"fractions must be a non-empty sequence of (numerator, "
                             f"denominator) pairs of positive ints, got {fractions!r}: "
                             f"{err}") from None
        if not pairs:
            raise ValueError("fractions must not be empty")
        head = self.channels // self.num_heads
        self.fractions = pairs
        self.top_k = top_k_sizes(head, pairs)
        if not all(1 <= k <= head for k in self.top_k):
            raise ValueError(f"every top-k size int(d * n / m) must be in [1, d] for the d={head} "
                             f"channels of a head, got {self.top_k}; use fewer heads or "
                             "fractions in (0, 1]")
        for i in range(len(pairs)):
            self.register_parameter(f"attn{i + 1}", nn.Parameter(torch.tensor([0.2])))

    def mixing_weights(self) -> list[torch.Tensor]:
        """The learnt weights :math:`w_i` (``attn1``, ``attn2``, ...), in order."""
        return [getattr(self, f"attn{i + 1}") for i in range(len(self.top_k))]

    def attention_map(self, logits: torch.Tensor) -> torch.Tensor:
        return top_k_attention_map(logits, self.top_k, self.mixing_weights())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, top_k={self.top_k}"


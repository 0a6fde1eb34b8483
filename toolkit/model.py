"""HireNet, the network: a hierarchical attention network over the frames and answers of an interview.

The model reads a candidate's interview at two levels (Hemamou et al., AAAI 2019, after Yang et
al. 2016):

* **answer level**: a bidirectional GRU over the frames of one answer gives states
  :math:`h_t`; an attention layer scores them, :math:`u_t = \\tanh(W h_t + b)`,
  :math:`a_t = \\mathrm{softmax}_t(u_t \\cdot c_q)`, with a context vector :math:`c_q` learned for
  each question :math:`q`; the answer vector is :math:`s = \\sum_t a_t h_t`;
* **interview level**: a bidirectional GRU over the answer vectors (in question order) and a
  second attention layer with one learned context vector give the interview vector :math:`v`;
  a linear layer gives the logit of the label.

Masking. Padding frames, frames whose ``success`` is false and padded answers never receive
attention: the softmax is taken over real, measured steps only, and masked steps get exactly
zero weight. Padding never enters either direction of a GRU: the backward direction runs on each
sequence reversed *within its own length* (exactly what ``pack_padded_sequence`` gives; the tests
check it against ``torch.nn.GRU`` on packed input), and padding sits after the real steps in both
directions. On CPU this ran about 20 times faster than packed sequences (measured on a batch of
320 answers of 300 frames), whose per-step backward pass is slow in PyTorch.

Frame pooling. With ``pool = k > 1`` the frames of an answer are averaged in windows of ``k``
(over measured frames only) before the frame GRU; a window without a measured frame is masked.

Face and voice. With ``voice_features`` set, the network reads two streams of each answer: the
face's frames and the voice's audio frames (openSMILE descriptors, pooled in windows of
``voice_pool``), each with its own frame GRU, attention and question contexts. The two answer
vectors are fused per answer, by concatenation or by a *modality attention*: an attention layer
over the two vectors, with a context learned per question, gives weights :math:`\beta_{face}`,
:math:`\beta_{voice}` (summing to 1), and the fused vector is the concatenation
:math:`2\,[\beta_{face} s_{face}, \beta_{voice} s_{voice}]`. The network can thus turn the voice
up or down answer by answer and question by question without mixing the two streams' coordinates
(a weighted sum would); with equal weights it is the plain concatenation. An answer without sound
falls back on its face.

How it is trained is :mod:`toolkit.training`; run folders are :mod:`toolkit.runs`.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["HireNetConfig", "HireNet", "Standardiser", "draw_architecture", "FUSIONS"]

#: Ways of fusing an answer's face and voice vectors.
FUSIONS = ("attention", "concat")


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class HireNetConfig:
    """Sizes of the network.

    Parameters
    ----------
    hidden_size : int
        GRU state size per direction at the answer (frame) level. 16 by default: the frame GRU
        is most of a training's time on the CPU, and 16 units train the book corpus in well under
        two thirds of the time of 32 (``benchmarks/bench_replicate.py`` gives the times).
    attention_size : int
        Size of :math:`u_t` and of the context vectors.
    answer_hidden_size : int or None
        GRU state size per direction at the interview level (None: ``hidden_size``).
    dropout : float
        Dropout on the input features, the answer vectors and the interview-level states during
        training.
    pool : int
        Frames averaged per window before the frame GRU (1: no pooling).
    n_questions : int
        Number of questions (question embeddings); 0: taken from the corpus at training.
    features : tuple of str or None
        Feature columns, in order; None: the canonical AUs of the corpus (``corpus.aus``) at
        training, or all of ``corpus.features`` when it has none.
    voice_features : tuple of str or None
        Columns of the voice stream (None: no voice stream; a single-stream network, which may
        itself read the voice as its frames).
    voice_pool : int
        Audio frames averaged per window of the voice stream (0: windows as long as the face's,
        ``pool`` frames at the corpus's frame rate, set from the corpus at training).
    fusion : {"attention", "concat"}
        How the face and voice vectors of an answer are fused (with a voice stream only).
    """

    hidden_size: int = 16
    attention_size: int = 32
    answer_hidden_size: int | None = None
    dropout: float = 0.2
    pool: int = 5
    n_questions: int = 0
    features: tuple[str, ...] | None = None
    voice_features: tuple[str, ...] | None = None
    voice_pool: int = 0
    fusion: str = "attention"

    def __post_init__(self):
        if self.fusion not in FUSIONS:
            raise ValueError(f"HireNetConfig.fusion: one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.voice_features is not None:
            object.__setattr__(self, "voice_features", tuple(self.voice_features))
        if int(self.voice_pool) != self.voice_pool or self.voice_pool < 0:
            raise ValueError(f"HireNetConfig.voice_pool: a positive integer or 0 (auto), got {self.voice_pool!r}")
        for name in ("hidden_size", "attention_size", "pool"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"HireNetConfig.{name}: must be a positive integer, got {value!r}")
        if self.answer_hidden_size is not None and self.answer_hidden_size < 1:
            raise ValueError(f"HireNetConfig.answer_hidden_size: must be positive or None, "
                             f"got {self.answer_hidden_size!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"HireNetConfig.dropout: must lie in [0, 1), got {self.dropout!r}")
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))

    def to_dict(self) -> dict:
        """JSON-ready configuration."""
        d = dataclasses.asdict(self)
        d["features"] = list(self.features) if self.features is not None else None
        d["voice_features"] = list(self.voice_features) if self.voice_features is not None else None
        return d


# --------------------------------------------------------------------------- the network

def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis restricted to ``mask``; masked entries get exactly 0.

    A row with no unmasked entry gets all zeros (not NaN).
    """
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) * mask


class _BiGRU(nn.Module):
    """Bidirectional GRU over right-padded sequences; padding enters neither direction.

    The backward direction runs on each sequence reversed within its own length, so padding comes
    after the real steps in both directions: the result equals ``nn.GRU(bidirectional=True)`` on
    a ``PackedSequence`` at every real step (outputs at padded steps are meaningless).

    On the CPU both directions run as one GRU of twice the size whose weights are block-diagonal
    (built from the two directions' weights at each call, so the parameters, their gradients and
    the saved state are those of two GRUs): PyTorch's CPU GRU pays per time step during training,
    and one pass instead of two made the frame GRU about a fifth faster
    (``benchmarks/bench_replicate.py``). Elsewhere (CUDA) the two directions run as two GRUs.
    """

    #: Both directions in one pass on the CPU. Set ``TOOLKIT_GRU_TWO_PASS=1`` in the environment of a
    #: new process for the earlier way, two GRUs (``benchmarks/bench_replicate.py`` times both).
    one_pass: bool = os.environ.get("TOOLKIT_GRU_TWO_PASS", "") != "1"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.forward_gru = nn.GRU(input_size, hidden_size, batch_first=True)
        self.backward_gru = nn.GRU(input_size, hidden_size, batch_first=True)
        # a template for the one-pass GRU: not a submodule (its weights are built from the two above
        # at each call), made without drawing from the random stream (initial weights stay as before)
        with torch.random.fork_rng(devices=[]):
            self.__dict__["_both"] = nn.GRU(2 * input_size, 2 * hidden_size, batch_first=True)

    def _one_pass(self, x: torch.Tensor, x_reversed: torch.Tensor):
        """Both directions in one GRU with block-diagonal weights: (forward, reversed) states."""
        hidden = self.forward_gru.hidden_size

        def weight(name):
            f, b = getattr(self.forward_gru, name), getattr(self.backward_gru, name)
            zeros = f.new_zeros(hidden, f.shape[1])
            return torch.cat([torch.cat([part, zeros], 1) if d == 0 else torch.cat([zeros, part], 1)
                              for g in range(3) for d, part in enumerate((f[g * hidden:(g + 1) * hidden],
                                                                          b[g * hidden:(g + 1) * hidden]))])

        def bias(name):
            f, b = getattr(self.forward_gru, name), getattr(self.backward_gru, name)
            return torch.cat([part[g * hidden:(g + 1) * hidden] for g in range(3) for part in (f, b)])

        params = {"weight_ih_l0": weight("weight_ih_l0"), "weight_hh_l0": weight("weight_hh_l0"),
                  "bias_ih_l0": bias("bias_ih_l0"), "bias_hh_l0": bias("bias_hh_l0")}
        both = self._both
        both.train(self.training)
        out, _ = torch.func.functional_call(both, params, (torch.cat([x, x_reversed], dim=2),))
        return out[..., :hidden], out[..., hidden:]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[1], device=x.device)[None, :]
        lengths = lengths.to(x.device)[:, None]
        reverse = torch.where(steps < lengths, lengths - 1 - steps, steps)
        x_reversed = x.gather(1, reverse[..., None].expand(-1, -1, x.shape[2]))
        if x.device.type == "cpu" and self.one_pass:
            out_forward, out_reversed = self._one_pass(x, x_reversed)
        else:
            out_forward, _ = self.forward_gru(x)
            out_reversed, _ = self.backward_gru(x_reversed)
        out_backward = out_reversed.gather(1, reverse[..., None].expand(-1, -1, out_reversed.shape[2]))
        return torch.cat([out_forward, out_backward], dim=2)


class _Attention(nn.Module):
    """Yang et al. (2016) attention: u_t = tanh(W h_t + b), a_t = masked softmax(u_t . c)."""

    def __init__(self, input_size: int, attention_size: int):
        super().__init__()
        self.project = nn.Linear(input_size, attention_size)

    def forward(self, h: torch.Tensor, context: torch.Tensor, mask: torch.Tensor):
        u = torch.tanh(self.project(h))
        scores = torch.einsum("nta,na->nt", u, context)
        weights = _masked_softmax(scores, mask)
        return torch.einsum("nt,ntd->nd", weights, h), weights


class HireNet(nn.Module):
    """Hierarchical attention network over answers (frames) and interviews (answers).

    Parameters
    ----------
    config : HireNetConfig
        Sizes; ``n_questions`` and ``features`` must be set (``train`` does it from the corpus).

    Notes
    -----
    The model carries its standardisation (``feature_mean``, ``feature_std`` buffers, saved in the
    state_dict) so that :func:`attention_weights` needs the model alone.
    """

    def __init__(self, config: HireNetConfig):
        super().__init__()
        if not config.n_questions or not config.features:
            raise ValueError("HireNet: config.n_questions and config.features must be set "
                             "(train() sets them from the corpus)")
        self.config = config
        n_features = len(config.features)
        hidden = config.hidden_size
        answer_hidden = config.answer_hidden_size or hidden
        self.frame_gru = _BiGRU(n_features, hidden)
        self.frame_attention = _Attention(2 * hidden, config.attention_size)
        self.question_context = nn.Embedding(config.n_questions, config.attention_size)
        nn.init.normal_(self.question_context.weight, std=0.5)
        self.answer_gru = _BiGRU((4 if config.voice_features else 2) * hidden, answer_hidden)
        self.answer_attention = _Attention(2 * answer_hidden, config.attention_size)
        self.answer_context = nn.Parameter(torch.randn(config.attention_size) * 0.5)
        self.output = nn.Linear(2 * answer_hidden, 1)
        self.dropout = nn.Dropout(config.dropout)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.voice_gru = None
        if config.voice_features:
            # made after the face's layers: a face-only network draws the same initial weights as before
            n_voice = len(config.voice_features)
            self.voice_gru = _BiGRU(n_voice, hidden)
            self.voice_attention = _Attention(2 * hidden, config.attention_size)
            self.voice_context = nn.Embedding(config.n_questions, config.attention_size)
            nn.init.normal_(self.voice_context.weight, std=0.5)
            if config.fusion == "attention":
                self.modality_attention = _Attention(2 * hidden, config.attention_size)
                self.modality_context = nn.Embedding(config.n_questions, config.attention_size)
                nn.init.normal_(self.modality_context.weight, std=0.5)
            self.register_buffer("voice_mean", torch.zeros(n_voice))
            self.register_buffer("voice_std", torch.ones(n_voice))

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams the network reads: ``("frames",)`` or ``("frames", "voice")``."""
        return ("frames", "voice") if self.voice_gru is not None else ("frames",)

    def encode_frames(self, x, lengths):
        """Frame states :math:`h_t` of the answer-level GRU, (answers, steps, 2 * hidden_size)."""
        # dropout on the input features, not on the (much larger) GRU states: same regularising
        # role, a fraction of the cost on CPU
        return self.frame_gru(self.dropout(x), lengths)

    def attend_frames(self, h, frame_mask, questions):
        """Answer vectors :math:`s = \\sum_t a_t h_t` and frame attention from the frame states."""
        return self.frame_attention(h, self.question_context(questions), frame_mask)

    def encode_answers(self, x, lengths, frame_mask, questions, voice=None):
        """Answer vectors and frame attention.

        Parameters
        ----------
        x : Tensor (answers, steps, features)
            Standardised (pooled) frames, right-padded, zeros where masked.
        lengths : Tensor (answers,)
            Steps of each answer (at least 1).
        frame_mask : Tensor (answers, steps), bool
            Steps that may receive attention (real and measured).
        questions : Tensor (answers,)
            0-based question index of each answer.
        voice : tuple of Tensor, optional
            ``(x, lengths, mask)`` of the voice stream, the same answers in the same order
            (needed when the network has a voice stream).

        Returns
        -------
        vectors : Tensor (answers, 2 * hidden_size), or 4 * hidden_size with a voice stream
        weights : Tensor (answers, steps), rows sum to 1 over ``frame_mask``; with a voice stream a
            dict: ``frames`` and ``voice`` (attention over each stream's windows) and ``modality``
            (answers, 2): the weights of the face and voice vectors (1, 0 when the answer has no
            sound; with concatenation, 0.5, 0.5 wherever both are present)
        """
        vectors, weights = self.attend_frames(self.encode_frames(x, lengths), frame_mask, questions)
        if self.voice_gru is None:
            return vectors, weights
        if voice is None:
            raise ValueError("this HireNet reads the face and the voice: pass voice=(x, lengths, mask)")
        vx, v_lengths, v_mask = voice
        vh = self.voice_gru(self.dropout(vx), v_lengths)
        voice_vectors, voice_weights = self.voice_attention(vh, self.voice_context(questions), v_mask)
        present = torch.stack([frame_mask.any(1), v_mask.any(1)], dim=1)
        if self.config.fusion == "concat":
            fused = torch.cat([vectors, voice_vectors], dim=1)
            beta = present.to(vectors.dtype) / present.sum(1, keepdim=True).clamp(min=1)
        else:
            stacked = torch.stack([vectors, voice_vectors], dim=1)
            _, beta = self.modality_attention(stacked, self.modality_context(questions), present)
            fused = 2 * torch.cat([beta[:, :1] * vectors, beta[:, 1:] * voice_vectors], dim=1)
        return fused, {"frames": weights, "voice": voice_weights, "modality": beta}

    def represent(self, vectors, answer_index):
        """The interview vector :math:`v` of each candidate (its representation) and the answer attention.

        ``answer_index`` (candidates, answers) gives, for each candidate in question order, the
        rows of ``vectors`` holding its answers, then -1 for padding.
        """
        present = answer_index >= 0
        padded = torch.cat([vectors, vectors.new_zeros(1, vectors.shape[1])])
        index = torch.where(present, answer_index, torch.full_like(answer_index, vectors.shape[0]))
        s = self.dropout(padded[index])
        g = self.dropout(self.answer_gru(s, present.sum(1)))
        context = self.answer_context.expand(g.shape[0], -1)
        return self.answer_attention(g, context, present)

    def decide(self, vectors, answer_index):
        """Logits of the label and answer attention from the answer vectors (the interview level)."""
        v, answer_weights = self.represent(vectors, answer_index)
        return self.output(v).squeeze(-1), answer_weights

    def forward(self, x, lengths, frame_mask, questions, answer_index, voice=None):
        """Logits of the label, frame attention and answer attention.

        ``answer_index`` (candidates, answers) gives, for each candidate in question order, the
        rows of ``x`` holding its answers, then -1 for padding. ``voice``: as in :meth:`encode_answers`.
        """
        vectors, frame_weights = self.encode_answers(x, lengths, frame_mask, questions, voice)
        logits, answer_weights = self.decide(vectors, answer_index)
        return logits, frame_weights, answer_weights


@dataclass
class Standardiser:
    """Per-feature standardisation fitted on the measured frames of the training candidates."""

    features: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    voice: "Standardiser | None" = None

    def transform(self, X: np.ndarray, success: np.ndarray) -> np.ndarray:
        """Standardise ``X`` (frames, features); frames with ``success`` false become 0."""
        Z = (np.asarray(X, np.float64) - self.mean) / self.std
        return np.where(np.asarray(success, bool)[:, None], Z, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        d = {"features": list(self.features), "mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.voice is not None:
            d["voice"] = self.voice.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Standardiser":
        voice = cls.from_dict(d["voice"]) if d.get("voice") else None
        return cls(tuple(d["features"]), np.asarray(d["mean"]), np.asarray(d["std"]), voice)


# --------------------------------------------------------------------------- figures

def draw_architecture(ax=None):
    """Draw HireNet's two levels as boxes and arrows (for the book).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .plots import COLORS, OKABE_ITO

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.2)
    ax.axis("off")

    def box(x, y, w, h, text, color="#f2f2f2", size=8.5):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.03", fc=color, ec="#555555", lw=0.8))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=9, color="#555555",
                                     lw=0.8))

    attention = COLORS["attention"]
    # answer level, drawn for answer 1 (question 1); the other answers go through the same layers
    for i, label in enumerate(["$x_1$", "$x_2$", "...", "$x_T$"]):
        x = 0.3 + i * 0.9
        box(x, 0.2, 0.7, 0.5, label)
        arrow(x + 0.35, 0.7, x + 0.35, 1.0)
    box(0.3, 1.0, 3.4, 0.6, "bidirectional GRU over frames  $h_t$")
    box(0.3, 1.95, 3.4, 0.6, "attention  $a_t=\\mathrm{softmax}(\\tanh(Wh_t+b)\\cdot c_q)$",
        color="#fbe3d6")
    box(4.1, 1.95, 1.5, 0.6, "question $q$\nembedding $c_q$", color=OKABE_ITO["yellow"] + "55")
    arrow(4.1, 2.25, 3.7, 2.25)
    arrow(2.0, 1.6, 2.0, 1.95)
    box(0.3, 2.9, 3.4, 0.5, "answer vector  $s_1=\\sum_t a_t h_t$")
    arrow(2.0, 2.55, 2.0, 2.9)
    ax.text(0.3, 0.02, "frames of answer 1 (pooled in windows of k frames)", fontsize=8, color="#555555")
    # the other answers
    for j, x in enumerate([5.9, 7.1, 8.3]):
        box(x, 2.9, 1.0, 0.5, f"$s_{j + 2}$" if j < 2 else "$s_N$")
    ax.text(6.5, 2.25, "answers 2 ... N: same layers,\ntheir own question's $c_q$", fontsize=8, ha="left",
            color="#555555")
    # interview level
    box(0.3, 3.8, 9.0, 0.55, "bidirectional GRU over answers (question order)  $g_i$")
    for x in (2.0, 6.4, 7.6, 8.8):
        arrow(x, 3.4, x, 3.8)
    box(0.3, 4.65, 9.0, 0.55, "attention over answers  $b_i=\\mathrm{softmax}(\\tanh(Vg_i+d)\\cdot c)$,  "
        "$v=\\sum_i b_i g_i$", color="#fbe3d6")
    arrow(4.8, 4.35, 4.8, 4.65)
    box(3.6, 5.5, 2.4, 0.55, "linear $\\to$ logit $\\to$ P(invited)", color=COLORS["invited"] + "33")
    arrow(4.8, 5.2, 4.8, 5.5)
    ax.plot([], [], color=attention, lw=6, alpha=0.3, label="attention layers")
    return ax

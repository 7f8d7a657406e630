"""An image-text matching model trained from scratch: a caption encoder and an image encoder mapping
into one embedding space (no pretrained text model is available offline).

- ``TextEncoder``: word embeddings and a bidirectional GRU over the caption's words (padding packed
  away); the sentence embedding is the two directions' last hidden states, concatenated (the RNN text
  encoder of AttnGAN's DAMSM, Xu et al., CVPR 2018, in place of StackGAN's char-CNN-RNN of Reed et al.
  2016, which needs a pretraining corpus we do not have);
- ``ImageEncoder``: a small strided CNN with global average pooling and a linear projection (DAMSM
  uses an ImageNet Inception-v3; we train ours on the same captioned images);
- the objective (``ganforge.losses.matching``): DAMSM's sentence-level matching loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

PAD = 0


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 128, word_dim: int = 64, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=PAD)
        self.rnn = nn.GRU(word_dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 (N, T) token ids (0-padded) -> float (N, embed_dim) sentence embeddings."""
        lengths = (tokens != PAD).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)                      # (2, N, hidden): last state of each direction
        return self.out(torch.cat([h[0], h[1]], dim=1))


class ImageEncoder(nn.Module):
    def __init__(self, channels: int, size: int, embed_dim: int = 128, width: int = 32):
        super().__init__()
        layers, c = [], channels
        for i in range(max(1, size.bit_length() - 3)):  # down to 4x4 (64 -> 4: four stride-2 convolutions)
            layers += [nn.Conv2d(c, width * 2 ** i, 4, 2, 1), nn.BatchNorm2d(width * 2 ** i), nn.LeakyReLU(0.2, True)]
            c = width * 2 ** i
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(c, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] (N, C, H, W) -> (N, embed_dim)."""
        return self.out(self.features(x).mean(dim=(2, 3)))


def similarity(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (N_images, N_texts)."""
    return F.normalize(image_emb.float(), dim=1) @ F.normalize(text_emb.float(), dim=1).t()

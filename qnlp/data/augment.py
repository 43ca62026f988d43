"""Random image augmentation: integer shifts (zero fill) and horizontal
flips, drawn from a given generator (a training run's, so a resumed run
draws the same).

>>> import torch
>>> augment = ImageAugment(shift=1, flip=False)
>>> image = torch.ones(4, 1, 3, 3)
>>> out = augment(image, torch.Generator().manual_seed(0))
>>> out.shape, bool((out <= 1).all())
(torch.Size([4, 1, 3, 3]), True)
>>> ImageAugment(0, False)(image, torch.Generator()) is image
True
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ImageAugment:
    """Shift every image of a batch ``(B, C, H, W)`` by up to ``shift``
    pixels each way (the uncovered border is 0) and, with ``flip``,
    mirror half of them left-right. Nothing is drawn when both are off.
    """
    shift: int = 2
    flip: bool = False

    def __call__(self, images: torch.Tensor, generator: torch.Generator
                 ) -> torch.Tensor:
        if not (self.shift or self.flip):
            return images
        b, _, h, w = images.shape
        s = self.shift
        # drawn on the CPU (one seeded stream on every device), then moved
        dx = torch.randint(-s, s + 1, (b,), generator=generator)
        dy = torch.randint(-s, s + 1, (b,), generator=generator)
        flips = (torch.rand(b, generator=generator) < 0.5) if self.flip \
            else torch.zeros(b, dtype=torch.bool)
        padded = torch.nn.functional.pad(images, (s, s, s, s))
        rows = torch.arange(h).view(1, h) + s - dy.view(b, 1)   # (B, H)
        cols = torch.arange(w).view(1, w) + s - dx.view(b, 1)   # (B, W)
        cols = torch.where(flips.view(b, 1), cols.flip(1), cols)
        index = torch.arange(b).view(b, 1, 1)
        device = images.device
        out = padded.permute(0, 2, 3, 1)[index.to(device),
                                         rows.view(b, h, 1).to(device),
                                         cols.view(b, 1, w).to(device)]
        return out.permute(0, 3, 1, 2).contiguous()

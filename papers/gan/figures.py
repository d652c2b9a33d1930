"""Figure 2: a grid of samples from G whose last column is the nearest training example
(Euclidean, in pixel space) of the sample next to it, to show G has not memorised the data.

The authors' ``show_samples_mnist_paper.py`` draws 4 rows of 5 samples plus the neighbour column,
with the neighbour highlighted; this module draws the same with matplotlib's Agg canvas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor


@torch.no_grad()
def nearest_neighbours(queries: Tensor, train: Tensor, batch_size: int = 1000) -> Tensor:
    """Index in ``train`` of the nearest (squared Euclidean) example to each query."""
    queries, train = queries.flatten(1).double(), train.flatten(1).double()
    if queries.shape[1] != train.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]}, train has {train.shape[1]}")
    train_sq = (train * train).sum(1)
    # ||q - t||^2 = ||q||^2 + ||t||^2 - 2 q.t, and ||q||^2 does not change the argmin
    return torch.cat([(train_sq - 2 * q @ train.T).argmin(1) for q in queries.split(batch_size)])


def sample_grid(
    samples: Tensor,
    train: Tensor,
    rows: int = 4,
    cols: int = 5,
    image_shape: tuple[int, ...] = (28, 28),
    pad: int = 1,
) -> np.ndarray:
    """The figure as one image: ``rows`` rows of ``cols`` samples, then in column cols + 1 the
    nearest training example of the last sample in the row. Values are clipped to [0, 1];
    ``image_shape`` is (H, W) or (H, W, C); padding pixels are white.
    """
    if len(samples) < rows * cols:
        raise ValueError(f"need rows * cols = {rows * cols} samples; got {len(samples)}")
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (H, W) or (H, W, C); got {image_shape}")
    samples = samples[: rows * cols].detach().cpu().reshape(rows, cols, -1)
    train = train.detach().cpu().flatten(1)
    neighbours = train[nearest_neighbours(samples[:, -1], train)]
    tiles = torch.cat([samples, neighbours[:, None].to(samples)], dim=1)
    tiles = tiles.reshape(rows, cols + 1, *image_shape).clamp(0, 1).numpy()
    h, w = image_shape[:2]
    grid = np.ones((rows * (h + pad) + pad, (cols + 1) * (w + pad) + pad, *image_shape[2:]))
    for r in range(rows):
        for c in range(cols + 1):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            grid[top : top + h, left : left + w] = tiles[r, c]
    return grid


def plot_sample_grid(
    samples: Tensor,
    train: Tensor,
    path: str | Path | None = None,
    rows: int = 4,
    cols: int = 5,
    image_shape: tuple[int, ...] = (28, 28),
) -> tuple[Figure, np.ndarray]:
    """Draw :func:`sample_grid` with the neighbour column outlined in yellow; save a PNG to
    ``path`` if given. Returns the figure and the grid array (e.g. to log as an image).
    """
    pad = 1
    grid = sample_grid(samples, train, rows, cols, image_shape, pad)
    h, w = image_shape[:2]
    fig = Figure(figsize=(0.5 * (cols + 1) * (w + pad) / w, 0.5 * rows * (h + pad) / h))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    left = cols * (w + pad) + pad / 2 - 0.5  # pixel centres are integers: edges at -0.5
    ax.add_patch(
        Rectangle((left, pad / 2 - 0.5), w + pad, rows * (h + pad), fill=False, ec="yellow", lw=2)
    )
    ax.set_axis_off()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig, grid

"""Section 4.1, data augmentation, on batches of images already on the device. Pure PyTorch.

The DataModule serves uint8 images at the paper's 256x256 (or a scaled size); this module turns
them into the network's input: subtract the mean image, take random crops with horizontal flips
and add PCA colour noise for training, or the centre / ten crops for testing.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] to float in [0, 1]."""
    return images.float() / 255.0


def mean_image(images: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Section 2: the mean over the training set subtracted from each pixel; shape (C, H, W)."""
    total = torch.zeros(images.shape[1:], dtype=torch.float64)
    for start in range(0, len(images), chunk):
        total += to_unit(images[start : start + chunk]).double().sum(0)
    return (total / len(images)).float()


def pixel_pca(images: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors (columns) of the 3x3 covariance of RGB pixel values over the
    training set (Section 4.1), pixels in [0, 1]."""
    count, total, outer = (
        0,
        torch.zeros(3, dtype=torch.float64),
        torch.zeros(3, 3, dtype=torch.float64),
    )
    for start in range(0, len(images), chunk):
        pixels = to_unit(images[start : start + chunk]).double().permute(0, 2, 3, 1).reshape(-1, 3)
        count, total, outer = count + len(pixels), total + pixels.sum(0), outer + pixels.T @ pixels
    mean = total / count
    covariance = outer / count - torch.outer(mean, mean)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    return eigenvalues.float(), eigenvectors.float()


def pca_colour(
    x: torch.Tensor, eigenvalues: torch.Tensor, eigenvectors: torch.Tensor, std: float = 0.1
) -> torch.Tensor:
    """Section 4.1: add [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T to every pixel of an image, with
    a_i ~ N(0, std) drawn once per image each time it is used."""
    alphas = torch.randn(len(x), 3, device=x.device) * std
    shift = (alphas * eigenvalues) @ eigenvectors.T  # (N, 3): sum_i p_i a_i l_i
    return x + shift[:, :, None, None]


def random_crop_flip(
    x: torch.Tensor, size: int, flip: bool = True, translate: bool = True
) -> torch.Tensor:
    """Section 4.1: a random size x size patch of each image, mirrored with probability 1/2.
    ``translate=False`` takes the centre patch instead (no translations)."""
    n, _, height, width = x.shape
    if translate:
        top = torch.randint(0, height - size + 1, (n,)).tolist()
        left = torch.randint(0, width - size + 1, (n,)).tolist()
    else:
        top, left = [(height - size) // 2] * n, [(width - size) // 2] * n
    crops = torch.stack(
        [img[:, t : t + size, l : l + size] for img, t, l in zip(x, top, left, strict=True)]
    )
    if flip:
        mirrored = torch.rand(n, device=x.device) < 0.5
        crops = torch.where(mirrored[:, None, None, None], crops.flip(-1), crops)
    return crops


def test_views(x: torch.Tensor, size: int, ten_crop: bool) -> torch.Tensor:
    """(N, V, C, size, size): the centre crop (V = 1), or Section 4.1's ten patches, the four
    corners and the centre and their mirror images (V = 10), whose softmax outputs are averaged."""
    if not ten_crop:
        return TF.center_crop(x, [size, size])[:, None]
    return torch.stack(TF.ten_crop(x, [size, size]), dim=1)

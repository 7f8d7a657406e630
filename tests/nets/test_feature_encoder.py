"""Pix2PixHD's instance-wise feature encoder: the official Encoder's layout, and region pooling (the
official per-instance loop) on hand-made maps."""
from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.feature_encoder import FeatureEncoder, paint, region_features, region_mean, regions


def test_encoder_is_the_official_encoder_decoder():
    enc = FeatureEncoder(3, 3, width=16, n_down=4)
    convs = [m for m in enc.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [type(m).__name__ for m in convs] == ["Conv2d"] * 5 + ["ConvTranspose2d"] * 4 + ["Conv2d"]
    assert [m.out_channels for m in convs] == [16, 32, 64, 128, 256, 128, 64, 32, 16, 3]
    assert convs[0].kernel_size == convs[-1].kernel_size == (7, 7)
    assert all(isinstance(m, nn.InstanceNorm2d) for m in enc.modules() if "Norm" in type(m).__name__)
    out = enc(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() < 1  # tanh


LABELS = torch.tensor([[[0, 0, 1],
                        [0, 2, 1]],
                       [[1, 1, 1],
                        [0, 0, 1]]])


def test_regions_are_class_regions_per_image_without_instances():
    index, cls = regions(LABELS)
    assert cls.tolist() == [0, 1, 2, 0, 1]  # image 0: classes 0, 1, 2; image 1: 0, 1 (never pooled across images)
    assert index.tolist() == [[[0, 0, 1], [0, 2, 1]], [[4, 4, 4], [3, 3, 4]]]


def test_instances_split_a_class_and_an_id_spanning_two_classes():
    inst = torch.tensor([[[5, 5, 9],
                          [6, 6, 9]],   # class 0 split into instances 5 and 6; id 6 also covers class 2
                         [[0, 0, 0],
                          [0, 0, 0]]])
    index, cls = regions(LABELS, inst)
    assert cls.tolist() == [0, 0, 1, 2, 0, 1]
    assert index[0].tolist() == [[0, 0, 2], [1, 3, 2]] and index[1].tolist() == [[5, 5, 5], [4, 4, 5]]


def test_region_mean_averages_each_region_and_passes_gradients():
    feats = torch.arange(24, dtype=torch.float32).view(2, 2, 2, 3).requires_grad_()
    index, cls = regions(LABELS)
    pooled = region_mean(feats, index, len(cls))
    assert pooled.shape == feats.shape
    # image 0, channel 0: values [[0, 1, 2], [3, 4, 5]]; class 0 at (0,0), (0,1), (1,0) -> mean 4/3
    assert torch.allclose(pooled[0, 0], torch.tensor([[4 / 3, 4 / 3, 3.5], [4 / 3, 4.0, 3.5]]))
    means, areas = region_features(feats, index, len(cls))
    assert areas.tolist() == [3, 2, 1, 2, 4] and torch.allclose(paint(means, index), pooled)
    pooled[0, 0, 0, 0].backward()  # one pixel's pooled value: 1/3 from each pixel of its region
    grad = feats.grad[0, 0]
    assert torch.allclose(grad, torch.tensor([[1 / 3, 1 / 3, 0], [1 / 3, 0, 0]])) and feats.grad[1].abs().sum() == 0

"""Dataset / BatchSampler / resize_images: the contract every loader and the trainer rely on."""
import pytest
import torch

from ganforge.config import Config
from ganforge.data import BatchSampler, Dataset, load_dataset, resize_images
from ganforge.errors import GanforgeError


def numbered(n=40):
    """A vector dataset whose samples are their own indices (and labels), to track what is drawn."""
    return Dataset("numbers", torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n) % 7)


def drawn_ids(sampler, n_batches):
    out = []
    for _ in range(n_batches):
        batch = sampler.next()
        assert torch.equal(batch.y, batch.x[:, 0].long() % 7)  # labels travel with their samples
        out.append(batch.x[:, 0].long())
    return torch.cat(out)


def test_every_sample_once_per_epoch_and_epochs_reshuffle():
    sampler = BatchSampler(numbered(40), batch_size=8, seed=3)
    assert sampler.batches_per_epoch == 5
    epoch0, epoch1 = drawn_ids(sampler, 5), drawn_ids(sampler, 5)
    assert sorted(epoch0.tolist()) == list(range(40)) == sorted(epoch1.tolist())
    assert not torch.equal(epoch0, epoch1)


def test_ranks_get_disjoint_shards_covering_the_epoch():
    ds = numbered(40)
    shards = [drawn_ids(BatchSampler(ds, batch_size=5, seed=1, rank=r, world_size=2), 4) for r in range(2)]
    assert not set(shards[0].tolist()) & set(shards[1].tolist())
    assert sorted(torch.cat(shards).tolist()) == list(range(40))
    # Next epoch: still disjoint, different from the first.
    later = [BatchSampler(ds, batch_size=5, seed=1, rank=r, world_size=2) for r in range(2)]
    for s in later:
        s.drawn = 4
    nxt = [drawn_ids(s, 4) for s in later]
    assert not set(nxt[0].tolist()) & set(nxt[1].tolist()) and not torch.equal(nxt[0], shards[0])


def test_deterministic_and_resumable_from_drawn():
    ds = numbered(40)
    straight = drawn_ids(BatchSampler(ds, 6, seed=5), 17)  # crosses epoch boundaries (6 batches/epoch)
    assert torch.equal(straight, drawn_ids(BatchSampler(ds, 6, seed=5), 17))
    assert not torch.equal(straight, drawn_ids(BatchSampler(ds, 6, seed=6), 17))
    first = BatchSampler(ds, 6, seed=5)
    head = drawn_ids(first, 9)
    resumed = BatchSampler(ds, 6, seed=5)
    resumed.drawn = first.drawn  # the whole state
    assert torch.equal(torch.cat([head, drawn_ids(resumed, 8)]), straight)


def test_image_batches_are_in_model_space():
    x = torch.randint(0, 256, (16, 1, 4, 4), dtype=torch.uint8)
    ds = Dataset("imgs", x)
    batch = BatchSampler(ds, 4, seed=0, channels_last=True).next()
    assert batch.x.dtype == torch.float32 and batch.y is None
    assert batch.x.min() >= -1 and batch.x.max() <= 1
    assert batch.x.is_contiguous(memory_format=torch.channels_last)


def test_to_model_from_model_round_trip_is_exact():
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    ds = Dataset("imgs", x)
    model = ds.to_model(x)
    assert model.min() == -1 and model.max() == 1
    assert torch.equal(ds.from_model(model), x)
    assert torch.equal(ds.from_model(torch.full((1, 1, 2, 2), 5.0)), torch.full((1, 1, 2, 2), 255, dtype=torch.uint8))
    vectors = numbered(5)
    assert torch.equal(vectors.from_model(vectors.to_model(vectors.x)), vectors.x)


def test_resize_center_crops_and_keeps_uint8():
    x = torch.zeros((3, 3, 20, 40), dtype=torch.uint8)
    x[:, :, :, 10:30] = 200  # the center square
    out = resize_images(x, 10)
    assert out.shape == (3, 3, 10, 10) and out.dtype == torch.uint8 and (out == 200).all()
    blocks = torch.zeros((1, 1, 32, 32), dtype=torch.uint8)
    blocks[..., :16, :] = 255
    small = resize_images(blocks, 8)
    assert (small[..., :3, :] == 255).all() and (small[..., 5:, :] == 0).all()
    assert resize_images(x[..., :20], 20).shape == (3, 3, 20, 20)


def test_load_dataset_resizes_once():
    ds = load_dataset(Config(data="digits", image_size=16))
    assert ds.x.shape[1:] == (1, 16, 16) and ds.x.dtype == torch.uint8


def test_bad_datasets_and_sizes():
    with pytest.raises(GanforgeError, match="empty"):
        Dataset("nothing", torch.zeros((0, 2)))
    with pytest.raises(GanforgeError, match="3 samples but 2 labels"):
        Dataset("mismatch", torch.zeros((3, 2)), torch.zeros(2))
    with pytest.raises(GanforgeError, match="fewer than one batch"):
        BatchSampler(numbered(10), batch_size=8, seed=0, world_size=2)
    with pytest.raises(GanforgeError, match="unknown dataset"):
        load_dataset(Config(data="no-such-data"))
    with pytest.raises(GanforgeError, match="unknown split"):
        load_dataset(Config(data="digits"), "validation")

"""GAN objectives, regularisers and the boundary-calibration loss."""
from ganforge.losses.gan import LOSSES, discriminator_loss, generator_loss  # noqa: F401

"""RaGAN (Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard
GAN", 2018): the discriminator estimates how much more realistic a real sample is than the average
fake (and vice versa); the generator's loss uses real logits too, so it also pushes reals down.
DCGAN networks and optimiser settings (``loss: ragan``)."""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("ragan")
class RaGAN(ObjectiveGAN):
    default_architecture = "dcgan"

"""DCGAN (Radford et al., 2016): convolutional G/D following the DCGAN guidelines, BCE objective."""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("dcgan")
class DCGAN(ObjectiveGAN):
    default_architecture = "dcgan"

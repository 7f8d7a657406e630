"""cGAN (Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014).

Both networks see the label: G gets a learned label embedding concatenated to z, D gets the label
as an extra learned input plane (images) or concatenated embedding (vectors). Any ``--loss``;
the default is the non-saturating one. ``ganforge sample RUN --class 3`` draws class 3.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("cgan")
class ConditionalGAN(ObjectiveGAN):
    default_architecture = "dcgan"
    conditional = True
    conditioning = "concat"

"""WGAN-GP (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017).

The Wasserstein objective with a gradient penalty instead of weight clipping: the critic pays
gp_weight * (||grad D(x_hat)|| - 1)^2 on random interpolates of real and fake samples (computed by
the base recipe in fp32, see ``ganforge.losses.regularizers.gradient_penalty``). Paper settings:
lambda 10, Adam lr 1e-4, betas (0, 0.9) for the ResNet (0.5, 0.9 for DCGAN-like nets), 5 critic steps.
The critic must not use batch norm (the penalty is per sample): the default architecture is the
ResNet, whose critic has none.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("wgan-gp")
class WGANGP(ObjectiveGAN):
    default_architecture = "resnet"

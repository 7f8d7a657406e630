"""WGAN (Arjovsky, Chintala & Bottou, 2017): a critic estimating the Wasserstein-1 distance.

Critic loss E[D(G(z))] - E[D(x)], generator loss -E[D(G(z))] (``loss: wasserstein``); the critic is
kept K-Lipschitz by clipping its weights to [-0.01, 0.01] after every critic step (``clip_value``).
Paper settings: RMSprop, learning rate 5e-5, 5 critic steps per generator step.
"""
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@RECIPES.register("wgan")
class WGAN(ObjectiveGAN):
    default_architecture = "dcgan"

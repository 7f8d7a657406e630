"""A GAN trained with one named objective from ``ganforge.losses`` (cfg.loss)."""
from __future__ import annotations

from ganforge.losses import discriminator_loss, generator_loss
from ganforge.recipes.gan import GANRecipe


class ObjectiveGAN(GANRecipe):
    """D and G losses come from the objective named by cfg.loss; subclasses pick networks and defaults."""

    def discriminator_loss(self, batch, fake, fake_labels, step):
        real_logits = self.discriminator(batch.x, batch.y if self.num_classes else None)
        fake_logits = self.discriminator(fake, fake_labels)
        loss = discriminator_loss(self.cfg.loss, real_logits, fake_logits, real_target=1.0 - self.cfg.label_smoothing)
        logs = {"d_loss": loss.detach(), "d_real": real_logits.detach().float().mean(),
                "d_fake": fake_logits.detach().float().mean()}
        if self.ada is not None:  # ADA's overfitting heuristic, read by the D phase
            logs["real_sign"] = real_logits.detach().float().sign().mean()
        return loss, logs

    def generator_loss(self, batch, fake, fake_labels, step):
        fake_logits = self.discriminator(fake, fake_labels)
        real_logits = None
        if self.cfg.loss == "ragan":  # relativistic losses compare with the real logits
            real_logits = self.discriminator(batch.x, batch.y if self.num_classes else None).detach()
        loss = generator_loss(self.cfg.loss, fake_logits, real_logits)
        return loss, {"g_loss": loss.detach()}

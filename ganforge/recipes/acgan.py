"""ACGAN (Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", 2017).

G(z, y) sees the label; D(x) returns (adversarial logits, class logits) and does not see the label.
D minimises adversarial loss + CE(class | real) [+ CE(class | fake)]; G minimises its adversarial
loss + CE(class | fake), i.e. it must produce samples the auxiliary classifier recognises as the class
it was asked for. Options: ``aux_weight`` (1.0) scales the classification terms; ``fake_class_weight``
(0.0 here; 1.0 is the paper) weights D's classification of fakes. We default it off: when D also
learns to classify fakes, G and D can agree on labels for samples that do not look like the class
(on digits, a real-data classifier then disagreed on whole classes), while a classifier trained on
reals only makes G produce what the data calls class c.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss, generator_loss
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.objective import ObjectiveGAN


@dataclass
class ACGANOptions:
    aux_weight: float = option_field(1.0, "weight of the classification terms")
    fake_class_weight: float = option_field(0.0, "weight of D's classification of fakes (the paper: 1.0)")


@RECIPES.register("acgan")
class ACGAN(ObjectiveGAN):
    default_architecture = "dcgan"
    conditional = True
    conditioning = "aux"
    Options = ACGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        weight, fake_weight = self.options.aux_weight, self.options.fake_class_weight
        if not weight >= 0:
            raise GanforgeError(f"option 'aux_weight' is {weight!r}; it must be a non-negative number (e.g. 1.0).")
        if not fake_weight >= 0:
            raise GanforgeError(f"option 'fake_class_weight' is {fake_weight!r}; it must be a non-negative number (0 or 1).")
        self.aux_weight, self.fake_class_weight = float(weight), float(fake_weight)

    def discriminator_loss(self, batch, fake, fake_labels, step):
        real_logits, real_classes = self.discriminator(batch.x)
        fake_logits, fake_classes = self.discriminator(fake)
        adversarial = discriminator_loss(self.cfg.loss, real_logits, fake_logits, real_target=self.real_target)
        classification = F.cross_entropy(real_classes.float(), batch.y)
        if self.fake_class_weight > 0:
            classification = classification + self.fake_class_weight * F.cross_entropy(fake_classes.float(), fake_labels)
        loss = adversarial + self.aux_weight * classification
        accuracy = (real_classes.argmax(1) == batch.y).float().mean()
        return loss, {"d_loss": adversarial.detach(), "d_aux": classification.detach(), "d_real_acc": accuracy.detach()}

    def generator_loss(self, batch, fake, fake_labels, step):
        fake_logits, fake_classes = self.discriminator(fake)
        real_logits = None
        if self.objective.needs_real_for_generator:
            real_logits = self.discriminator(batch.x)[0].detach()
        adversarial = generator_loss(self.cfg.loss, fake_logits, real_logits)
        classification = F.cross_entropy(fake_classes.float(), fake_labels)
        loss = adversarial + self.aux_weight * classification
        return loss, {"g_loss": adversarial.detach(), "g_aux": classification.detach()}

"""Free-form image inpainting: DeepFill v2 (Yu et al., "Free-Form Image Inpainting with Gated
Convolution", ICCV 2019), on any image dataset.

- G: the two-stage gated-convolution network with contextual attention in the refinement stage
  (``ganforge.nets.gated``), input [image with holes zeroed, ones, mask];
- D: SN-PatchGAN on [image, mask], hinge loss on every element of its output map;
- G's loss: L1(coarse, x) + L1(refined, x) over the whole image (the paper's ``ae_loss``, weight
  ``l1_weight`` 1) + ``gan_weight`` (1) x hinge loss of D on the completed image;
- D sees real images and completed images (refined output pasted into the holes), both with the mask;
- masks drawn every step: free-form brush strokes united with a box (``mask_kind: both``, as the
  paper trains), or ``free_form`` / ``box`` (``ganforge.data.masks``); their RNG is recipe state (exact
  resume); Adam 1e-4 (0.5, 0.999), one D step per G step.

Sampling (``gen.translate(images, masks=...)``, ``ganforge sample RUN --input DIR [--mask DIR]``):
images and their masks (1 = hole; without masks, ``mask_kind`` masks seeded by ``--seed``); the output
is the completed image (known pixels kept). Evaluation (``ganforge eval``): fixed seeded masks on the
test images; L1 / PSNR / SSIM against the original; ``--baseline identity`` scores the input with grey
holes, ``--baseline fill`` holes filled with the mean training image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.data.masks import KINDS, random_masks
from ganforge.errors import GanforgeError
from ganforge.losses.gan import LOSSES
from ganforge.nets.gated import InpaintGenerator, SNPatchGAN
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, Samples, adversarial_groups
from ganforge.recipes.translation import ImageToImage, evaluating

EVAL_SEED = 20260  # the evaluation masks: fixed, so every run is scored on the same holes


@dataclass
class InpaintOptions:
    mask_kind: str = option_field("both", "training masks: free_form, box, or both (their union, the paper's)")
    l1_weight: float = option_field(1.0, "weight of the L1 losses of the coarse and refined outputs")
    gan_weight: float = option_field(1.0, "weight of the SN-PatchGAN hinge loss")


@RECIPES.register("inpaint")
class Inpaint(ImageToImage):
    knobs = ("inputs", "masks")
    inference_networks = ("generator",)
    Options = InpaintOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        o = self.options
        if dataset.kind != "image":
            raise GanforgeError(f"inpaint fills holes in images; dataset {dataset.name!r} holds {dataset.kind}.")
        if o.mask_kind not in KINDS:
            raise GanforgeError(f"mask_kind {o.mask_kind!r} is not one of {', '.join(KINDS)}.")
        c, size = dataset.shape[0], dataset.shape[-1]
        if size % 4 or size < 16:
            raise GanforgeError(f"inpaint needs an image size divisible by 4 and at least 16, got {size}; pass --image-size.")
        self.add_network("generator", InpaintGenerator(c, cfg.g_width, size))
        self.add_network("discriminator", SNPatchGAN(c, cfg.d_width, size))
        self.mask_rng = torch.Generator().manual_seed(cfg.seed + 7)
        self._masks = None

    def optimizer_groups(self):
        return adversarial_groups(self.cfg)

    def phases(self):
        return [Phase("D", "discriminator", self.discriminator_loss),
                Phase("G", "generator", self.generator_loss, new_batch=False)]

    def draw_masks(self, n: int) -> torch.Tensor:
        seed = int(torch.randint(2 ** 62, (), generator=self.mask_rng))
        return random_masks(n, self.dataset.shape[-1], self.options.mask_kind, seed).to(self.device)

    def discriminator_loss(self, batch, step):
        x = batch.x
        self._masks = mask = self.draw_masks(len(x))  # the step's masks: G's phase reuses them
        with torch.no_grad():
            _, refined = self.generator(x, mask)
        completed = refined * mask + x * (1 - mask)
        loss = LOSSES.get("hinge").discriminator(self.discriminator(x, mask), self.discriminator(completed, mask))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        x, o = batch.x, self.options
        mask = self._masks if self._masks is not None and len(self._masks) == len(x) else self.draw_masks(len(x))
        self._masks = None
        coarse, refined = self.generator(x, mask)
        l1 = (coarse.float() - x.float()).abs().mean() + (refined.float() - x.float()).abs().mean()
        completed = refined * mask + x * (1 - mask)
        adv = LOSSES.get("hinge").generator(self.discriminator(completed, mask))
        return o.l1_weight * l1 + o.gan_weight * adv, {"l1": l1.detach(), "g_loss": adv.detach()}

    # -- state: the mask generator (exact resume) -------------------------------------------------
    def state_dict(self):
        return {"mask_rng": self.mask_rng.get_state()}

    def load_state_dict(self, state):
        if state:
            self.mask_rng.set_state(state["mask_rng"].to(torch.uint8).cpu())

    # -- sampling and evaluation ------------------------------------------------------------------
    def _check_masks(self, masks, inputs, seed):
        if masks is None:
            return random_masks(len(inputs), inputs.shape[-1], self.options.mask_kind, seed)
        masks = torch.as_tensor(masks, dtype=torch.float32)
        if masks.dim() == 3:
            masks = masks[:, None]
        if masks.shape != (len(inputs), 1, *inputs.shape[-2:]):
            raise GanforgeError(f"masks have shape {tuple(masks.shape)}; give one (1, H, W) mask per input image "
                                f"({len(inputs)} x 1 x {inputs.shape[-2]} x {inputs.shape[-1]}), 1 = hole.")
        return (masks > 0.5).float()

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, masks=None, **knobs):
        if inputs is None:
            raise GanforgeError("inpaint fills holes in images: give inputs (ganforge sample RUN --input DIR "
                                "[--mask DIR], or gen.translate(images, masks=...)).")
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.input_shape():
            raise GanforgeError(f"inputs have shape {tuple(inputs.shape[1:])} but the model takes "
                                f"{self.input_shape()} images; resize them to the training size.")
        masks = self._check_masks(masks, inputs, seed)
        net, outs = self.inference(nets, "generator"), []
        with evaluating(net):
            for x, m in zip(inputs.split(256), masks.split(256)):
                x, m = x.to(self.device).float(), m.to(self.device)
                out = net(x, m)[1].float()
                outs.append((out * m + x * (1 - m)).clamp(-1, 1).cpu())
        return Samples(torch.cat(outs), extra={"masks": masks})

    def preview(self, n, seed=0, nets=None):
        """Rows: input with grey holes | completed | original."""
        x = self.dataset.to_model(self.dataset.x[:8], "image")
        masks = random_masks(len(x), x.shape[-1], self.options.mask_kind, EVAL_SEED)
        out = self.sample(len(x), nets=nets, inputs=x, masks=masks).x
        return Samples(torch.cat([x * (1 - masks), out, x]), extra={"nrow": len(x)})

    def eval_pairs(self, dataset, **knobs):
        x = dataset.to_model(dataset.x, "image")
        masks = random_masks(len(x), x.shape[-1], self.options.mask_kind, EVAL_SEED)
        return x * (1 - masks), x, {"masks": masks}

    def eval_reference(self, dataset):
        return dataset.to_model(dataset.x, "image")

    def baseline(self, name: str, inputs: torch.Tensor, masks=None, **knobs):
        if name == "fill" and masks is not None:
            mean = self.eval_reference(self.dataset).float().mean(0, keepdim=True)
            return inputs * (1 - masks) + mean * masks
        return None

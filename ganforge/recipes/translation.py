"""What the image-to-image recipes share (pix2pix, CycleGAN, StarGAN): inference in eval mode, input
images as the sampling knob, grids of input | output | target rows, the GAN objectives of the
papers, and ``eval_pairs`` (the held-out inputs and their ground truth, for L1 / PSNR / SSIM / FID)."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.recipes.base import Recipe, Samples

PREVIEW = 8


def adversarial(kind: str, logits: torch.Tensor, real: bool) -> torch.Tensor:
    """The objective on D's patch logits: ``vanilla`` (BCE, pix2pix), ``lsgan`` (CycleGAN), ``hinge``."""
    logits = logits.float()
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))
    if kind == "lsgan":
        return (logits - (1.0 if real else 0.0)).pow(2).mean()
    raise GanforgeError(f"unknown gan_loss {kind!r}; use vanilla or lsgan.")


@contextlib.contextmanager
def evaluating(net: torch.nn.Module):
    """Run a network in eval mode (batch-norm running statistics, no dropout), then restore its mode."""
    was = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was)


class ImageToImage(Recipe):
    task = "image"
    knobs = ("inputs",)
    translator = "generator"  # the inference network that maps inputs to outputs

    def translate_batch(self, net, inputs: torch.Tensor, **knobs) -> torch.Tensor:
        return net(inputs)

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, **knobs):
        if inputs is None:
            raise GanforgeError(f"recipe {self.cfg.recipe!r} translates images: give inputs (ganforge sample RUN "
                                f"--input DIR, or gen.translate(images)).")
        if inputs.dim() != 4 or inputs.shape[1:] != self.input_shape():
            raise GanforgeError(f"inputs have shape {tuple(inputs.shape[1:])} but the model takes "
                                f"{self.input_shape()} images; resize them to the training size.")
        net = self.inference(nets, self.translator)
        outs = []
        with evaluating(net):
            for chunk in inputs.split(256):
                outs.append(self.translate_batch(net, chunk.to(self.device).float(), **knobs).float().cpu())
        return Samples(torch.cat(outs))

    def input_shape(self) -> tuple:
        return tuple(self.dataset.shape)

    def preview_inputs(self):
        """Fixed (inputs, targets or None) of the training data, model space."""
        d = self.dataset
        target = d.fields.get("target")
        return d.to_model(d.x[:PREVIEW], "image"), None if target is None else d.to_model(target[:PREVIEW], "image")

    def preview(self, n, seed=0, nets=None):
        x, target = self.preview_inputs()
        out = self.sample(len(x), nets=nets, inputs=x).x
        rows = [x, out] + ([target] if target is not None else [])
        rows = [r if r.shape[1] == out.shape[1] else r.expand(-1, out.shape[1], -1, -1) for r in rows]
        return Samples(torch.cat(rows), extra={"nrow": len(x)})

    def eval_pairs(self, dataset, **knobs):
        """(inputs, ground truth or None, knobs) in model space for evaluation on a split of the data."""
        target = dataset.fields.get("target")
        return (dataset.to_model(dataset.x, "image"),
                None if target is None else dataset.to_model(target, "image"), knobs)

    def eval_reference(self, dataset) -> torch.Tensor:
        """Real images of the output domain (model space): what FID/KID compare the outputs with."""
        target = dataset.fields.get("target")
        return dataset.to_model(dataset.x if target is None else target, "image")

"""StarGAN (Choi et al., "StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image
Translation", CVPR 2018), on labelled domains (``--data domains``).

- G(x, c): the target domain's one-hot code, replicated spatially, concatenated to the image;
  c7s1-64, two 4x4 stride-2 downsamplings (128, 256), 6 residual blocks, two 4x4 transposed-convolution
  upsamplings, c7s1-3, Tanh; instance norm (affine) and ReLU;
- D: 4x4 stride-2 convolutions with LeakyReLU 0.01 and no normalisation, widths 64, 128, ... doubling,
  down to a 2x2 map (6 layers at 128x128, 5 at 64x64); two heads: D_src (3x3 convolution: real/fake per
  patch) and D_cls (a convolution over the whole map: domain logits);
- objective: WGAN-GP (lambda_gp = 10) + domain classification (lambda_cls = 1: cross-entropy of D_cls
  on real images with their domain for D, on fakes with the target domain for G) + reconstruction
  lambda_rec * |x - G(G(x, c_trg), c_org)| (lambda_rec = 10);
- target domains: the batch's labels in a random order (the official ``randperm``), five D updates
  per G update (n_critic = 5), Adam lr 1e-4, betas (0.5, 0.999), linear decay in the second half.

Sampling: ``domain`` = a domain name, an index, or one target index per input.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, Samples, adversarial_groups
from ganforge.recipes.translation import ImageToImage, evaluating


@dataclass
class StarGANOptions:
    lambda_cls: float = option_field(1.0, "weight of the domain-classification losses")
    lambda_rec: float = option_field(10.0, "weight of the reconstruction (cycle) loss")
    lambda_gp: float = option_field(10.0, "weight of the WGAN gradient penalty")
    n_blocks: int = option_field(6, "residual blocks of G")


class StarGenerator(nn.Module):
    def __init__(self, channels: int, num_domains: int, ngf: int = 64, n_blocks: int = 6):
        super().__init__()
        # Instance statistics at training *and* inference. The official code builds these layers with
        # track_running_stats=True but never calls G.eval(), so its outputs always use each image's own
        # statistics; in eval mode running averages replace them and the outputs fall apart (domain
        # accuracy 0.37 instead of 0.85, L1 0.46 instead of 0.20 after 500 steps at 32x32).
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        layers = [nn.Conv2d(channels + num_domains, ngf, 7, 1, 3, bias=False), norm(ngf), nn.ReLU(True)]
        c = ngf
        for _ in range(2):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), norm(c * 2), nn.ReLU(True)]
            c *= 2
        for _ in range(n_blocks):
            layers.append(_StarResidual(c))
        for _ in range(2):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), norm(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.Conv2d(c, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.num_domains = num_domains
        self.register_load_state_dict_pre_hook(_drop_running_statistics)

    def forward(self, x, c):
        code = F.one_hot(c.long(), self.num_domains).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.model(torch.cat([x, code], 1))


def _drop_running_statistics(module, state_dict, prefix, *args):
    """Checkpoints written while G tracked running statistics hold them; they are unused now, so those runs
    still load (and translate better than before: with each image's own statistics)."""
    for key in [k for k in state_dict if k.startswith(prefix)
                and k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")]:
        del state_dict[key]


class _StarResidual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        norm = lambda: nn.InstanceNorm2d(c, affine=True)  # noqa: E731  (instance statistics: see StarGenerator)
        self.main = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), norm(), nn.ReLU(True),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), norm())

    def forward(self, x):
        return x + self.main(x)


class StarDiscriminator(nn.Module):
    """Returns (patch real/fake scores, domain logits)."""

    def __init__(self, channels: int, num_domains: int, size: int, ndf: int = 64):
        super().__init__()
        repeat = max(1, size.bit_length() - 2)  # down to a 2x2 map: 6 layers at 128, 5 at 64, 4 at 32
        layers, c = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.01)], ndf
        for _ in range(1, repeat):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            c *= 2
        self.main = nn.Sequential(*layers)
        k = size // 2 ** repeat
        self.src = nn.Conv2d(c, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(c, num_domains, k, bias=False)

    def forward(self, x):
        h = self.main(x)
        return self.src(h), self.cls(h).flatten(1)


@RECIPES.register("stargan")
class StarGAN(ImageToImage):
    knobs = ("inputs", "domain")
    inference_networks = ("generator",)
    Options = StarGANOptions

    def __init__(self, cfg, dataset):
        super().__init__(cfg, dataset)
        if dataset.y is None or dataset.num_classes < 2:
            raise GanforgeError(f"stargan needs images labelled with their domain (--data domains); dataset "
                                f"{dataset.name!r} has {dataset.num_classes} classes.")
        c, size = dataset.shape[0], dataset.shape[-1]
        self.num_domains = dataset.num_classes
        self.add_network("generator", StarGenerator(c, self.num_domains, cfg.g_width, self.options.n_blocks))
        self.add_network("discriminator", StarDiscriminator(c, self.num_domains, size, cfg.d_width))

    def optimizer_groups(self):
        return adversarial_groups(self.cfg)

    def phases(self):
        return [Phase("D", "discriminator", self.discriminator_loss),
                Phase("G", "generator", self.generator_loss, interval=self.cfg.n_critic, new_batch=False)]

    def _targets(self, labels):
        perm = torch.randperm(len(labels), device=labels.device)
        return labels[perm]

    def discriminator_loss(self, batch, step):
        o, x, c_org = self.options, batch.x, batch.y
        c_trg = self._targets(c_org)
        self._c_trg = c_trg
        src_real, cls_real = self.discriminator(x)
        with torch.no_grad():
            fake = self.generator(x, c_trg)
        src_fake, _ = self.discriminator(fake)
        cls = F.cross_entropy(cls_real.float(), c_org)
        alpha = torch.rand(len(x), 1, 1, 1, device=x.device)
        mixed = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.discriminator(mixed)[0].float().sum(), mixed, create_graph=True)
        gp = (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
        wasserstein = src_fake.float().mean() - src_real.float().mean()
        loss = wasserstein + o.lambda_cls * cls + o.lambda_gp * gp
        return loss, {"d_loss": wasserstein.detach(), "d_cls": cls.detach(), "gp": gp.detach()}

    def generator_loss(self, batch, step):
        o, x, c_org = self.options, batch.x, batch.y
        c_trg = getattr(self, "_c_trg", None)
        if c_trg is None or len(c_trg) != len(x):
            c_trg = self._targets(c_org)
        fake = self.generator(x, c_trg)
        src, cls_logits = self.discriminator(fake)
        adv = -src.float().mean()
        cls = F.cross_entropy(cls_logits.float(), c_trg)
        rec = (self.generator(fake, c_org) - x).abs().mean()
        loss = adv + o.lambda_cls * cls + o.lambda_rec * rec
        return loss, {"g_loss": adv.detach(), "g_cls": cls.detach(), "rec": rec.detach()}

    # -- sampling ---------------------------------------------------------------------------------
    def domain_index(self, domain, n: int) -> torch.Tensor:
        names = list(self.dataset.class_names) or [str(i) for i in range(self.num_domains)]
        if domain is None:
            raise GanforgeError(f"stargan needs a target domain (--domain NAME): one of {', '.join(names)}.")
        if isinstance(domain, torch.Tensor):
            index = domain.long().reshape(-1)
            index = index.expand(n) if index.numel() == 1 else index
        elif str(domain) in names:
            index = torch.full((n,), names.index(str(domain)), dtype=torch.long)
        elif isinstance(domain, int) or str(domain).isdigit():
            index = torch.full((n,), int(domain), dtype=torch.long)
        else:
            raise GanforgeError(f"unknown domain {domain!r}; choose one of {', '.join(names)}.")
        if len(index) != n or index.min() < 0 or index.max() >= self.num_domains:
            raise GanforgeError(f"domain {domain!r}: give one domain, or one per input (0..{self.num_domains - 1}).")
        return index

    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, domain=None, **knobs):
        if inputs is None:
            raise GanforgeError("stargan translates images: give inputs and --domain (ganforge sample RUN --input DIR "
                                "--domain NAME).")
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.input_shape():
            raise GanforgeError(f"inputs have shape {tuple(inputs.shape[1:])} but G takes {self.input_shape()} images.")
        target = self.domain_index(domain, len(inputs))
        net = self.inference(nets, "generator")
        with evaluating(net):
            out = [net(x.to(self.device).float(), c.to(self.device)).float().cpu()
                   for x, c in zip(inputs.split(256), target.split(256))]
        return Samples(torch.cat(out), target)

    def preview(self, n, seed=0, nets=None):
        """Row 0: inputs; row j+1: the inputs translated to domain j."""
        d = self.dataset
        idx = torch.cat([torch.nonzero(d.y == k).flatten()[:2] for k in range(self.num_domains)])[:8]
        x = d.to_model(d.x[idx], "image")
        rows = [x] + [self.sample(len(x), nets=nets, inputs=x, domain=k).x for k in range(self.num_domains)]
        return Samples(torch.cat(rows), extra={"nrow": len(x)})

    def eval_pairs(self, dataset, **knobs):
        """Every test image to every other domain; ground truth where the same subject exists there
        (field ``group``), else None (then only FID / KID / domain accuracy)."""
        groups = dataset.fields.get("group")
        n, k = len(dataset), self.num_domains
        src = torch.arange(n).repeat_interleave(k - 1)
        trg = torch.cat([torch.tensor([j for j in range(k) if j != int(dataset.y[i])]) for i in range(n)])
        truth = None
        if groups is not None:
            where = {(int(g), int(y)): i for i, (g, y) in enumerate(zip(groups, dataset.y))}
            match = [where.get((int(groups[s]), int(t))) for s, t in zip(src, trg)]
            keep = torch.tensor([m is not None for m in match])
            src, trg = src[keep], trg[keep]
            truth = dataset.to_model(dataset.x[torch.tensor([m for m in match if m is not None], dtype=torch.long)], "image")
        return dataset.to_model(dataset.x[src], "image"), truth, {"domain": trg}

    def eval_reference(self, dataset):
        return dataset.to_model(dataset.x, "image")

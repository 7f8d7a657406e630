"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets", NeurIPS 2016).

* **Latent codes.** G's input is noise z ~ U(-1, 1) (``z_dim``, 62 on MNIST; uniform as in the authors'
  code) plus structured codes c: one categorical code ``cat`` ~ Cat(K) (``categorical``, 10) given
  one-hot, and continuous codes ``c1..cM`` ~ U(-1, 1) (``continuous``, 2).
* **Q head sharing D's body.** The discriminator network returns ``(logit, q)``: the adversarial logit
  and, from a small head on the same features, Q(c | x): the categorical logits and the means of a
  factored Gaussian for the continuous codes (std fixed to 1 as in the authors' MNIST code,
  ``fix_std``; else learned log-stds).
* **Mutual-information lower bound** (paper eq. 5): ``L_I = E[log Q(c | G(z, c))] + H(c)``. Both D (with
  its Q head) and G minimise their GAN loss ``- lambda L_I`` (``info_weight``; ``continuous_weight``
  scales the continuous codes' term). The entropy H(c) is a constant, logged so that ``mi_cat`` reads
  as a bound in nats (log 10 = 2.30 at most).
* **Networks** (paper Table 1, MNIST): G: FC 1024-BN-ReLU, FC (s/4)^2 x 128-BN-ReLU, 4x4 up-conv 64-BN-ReLU,
  4x4 up-conv to the image (tanh); D: 4x4 conv 64 lReLU, 4x4 conv 128-BN-lReLU, FC 1024-BN-lReLU, then FC
  -> logit and Q: FC 128-BN-lReLU, FC -> codes. Widths scale with ``g_width`` / ``d_width`` (64 = the paper).
  Adam, lr 2e-4 for D and 1e-3 for G, beta1 0.5. Weights start as in the authors' code: N(0, 0.02), BN
  scales N(1, 0.02). (With PyTorch's default init and Gaussian noise, the categorical code of our first
  MNIST runs settled on a style instead of the digit: error 0.67 after 1,500 steps.)

Sampling takes ``codes`` (``ganforge sample RUN --code cat=3,c1=0.5``); codes not given are drawn from
their prior. ``traversal(code)`` draws the paper's figures: one row per noise vector, one column per value
of the code (the categories, or -2..2 for a continuous code); ``ganforge sample RUN --traverse c1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.losses import discriminator_loss, generator_loss
from ganforge.options import option_field, parse_options
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Samples
from ganforge.recipes.gan import GANRecipe

TRAVERSAL_RANGE = 2.0  # continuous codes are shown from -2 to 2 (beyond the U(-1, 1) prior, as in the paper)


@dataclass
class InfoGANOptions:
    categorical: int = option_field(10, "categories of the categorical code 'cat' (0: none)")
    continuous: int = option_field(2, "continuous codes c1..cM ~ U(-1, 1)")
    info_weight: float = option_field(1.0, "lambda of the mutual-information term (paper: 1)")
    continuous_weight: float = option_field(1.0, "extra weight of the continuous codes' term")
    fix_std: bool = option_field(True, "Q's Gaussian for continuous codes has std 1 (the authors' MNIST setting)")


def init_infogan_weights(module: nn.Module) -> None:
    """The authors' initialisation (``custom_ops.py``): weights N(0, 0.02) (truncated at 2 std for the
    convolutions, as ``tf.truncated_normal_initializer``), biases 0, BatchNorm scales N(1, 0.02)."""
    if isinstance(module, nn.Conv2d):
        nn.init.trunc_normal_(module.weight, 0.0, 0.02, -0.04, 0.04)
    elif isinstance(module, (nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
    else:
        return
    nn.init.zeros_(module.bias)


class InfoGenerator(nn.Module):
    def __init__(self, in_dim: int, channels: int, size: int, width: int):
        super().__init__()
        s, w = size // 4, width / 64
        self.s, self.c2 = s, int(128 * w)
        self.fc = nn.Sequential(nn.Linear(in_dim, int(1024 * w)), nn.BatchNorm1d(int(1024 * w)), nn.ReLU(True),
                                nn.Linear(int(1024 * w), s * s * self.c2), nn.BatchNorm1d(s * s * self.c2), nn.ReLU(True))
        self.conv = nn.Sequential(nn.ConvTranspose2d(self.c2, int(64 * w), 4, 2, 1), nn.BatchNorm2d(int(64 * w)),
                                  nn.ReLU(True), nn.ConvTranspose2d(int(64 * w), channels, 4, 2, 1), nn.Tanh())
        self.apply(init_infogan_weights)

    def forward(self, z: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(torch.cat([z, codes], 1) if codes is not None else z)
        return self.conv(h.view(-1, self.c2, self.s, self.s))


class InfoDiscriminator(nn.Module):
    """Shared body; returns (adversarial logit (N,), Q's outputs (N, categorical + continuous [* 2]))."""

    def __init__(self, channels: int, size: int, width: int, q_dim: int):
        super().__init__()
        s, w = size // 4, width / 64
        lrelu = lambda: nn.LeakyReLU(0.1, True)  # noqa: E731  (the authors' leak)
        self.body = nn.Sequential(
            nn.Conv2d(channels, int(64 * w), 4, 2, 1), lrelu(),
            nn.Conv2d(int(64 * w), int(128 * w), 4, 2, 1), nn.BatchNorm2d(int(128 * w)), lrelu(), nn.Flatten(),
            nn.Linear(s * s * int(128 * w), int(1024 * w)), nn.BatchNorm1d(int(1024 * w)), lrelu())
        self.head = nn.Linear(int(1024 * w), 1)
        self.q = nn.Sequential(nn.Linear(int(1024 * w), int(128 * w)), nn.BatchNorm1d(int(128 * w)), lrelu(),
                               nn.Linear(int(128 * w), q_dim))
        self.apply(init_infogan_weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        h = self.body(x)
        return self.head(h).flatten(), self.q(h)


@RECIPES.register("infogan")
class InfoGAN(GANRecipe):
    Options = InfoGANOptions
    task = "noise"
    latent_prior = "uniform"  # the incompressible noise, as in the authors' MNIST code (``Uniform(62)``)

    def __init__(self, cfg, dataset):
        opts = self.check(cfg)
        self.n_cat, self.n_cont = opts.categorical, opts.continuous
        self.info_weight, self.cont_weight, self.fix_std = opts.info_weight, opts.continuous_weight, opts.fix_std
        if dataset.kind != "image" or dataset.shape[-1] % 4:
            raise GanforgeError(f"recipe 'infogan' models images whose size is a multiple of 4 (28 for MNIST); "
                                f"dataset {dataset.name!r} has shape {tuple(dataset.shape)}: use --image-size 28.")
        super().__init__(cfg, dataset)

    @staticmethod
    def check(cfg) -> InfoGANOptions:
        opts = parse_options(InfoGANOptions, cfg.options, "recipe 'infogan'")
        if opts.categorical < 0 or opts.continuous < 0 or opts.categorical == 1 or opts.categorical + opts.continuous == 0:
            raise GanforgeError(f"recipe 'infogan' needs codes: categorical {opts.categorical} (0 or >= 2) and "
                                f"continuous {opts.continuous} (>= 0), not both 0; e.g. {{categorical: 10, continuous: 2}}.")
        if not (opts.info_weight >= 0 and opts.continuous_weight >= 0):
            raise GanforgeError("options 'info_weight' and 'continuous_weight' of recipe 'infogan' must be >= 0.")
        return opts

    @property
    def code_names(self) -> tuple[str, ...]:
        return (("cat",) if self.n_cat else ()) + tuple(f"c{i + 1}" for i in range(self.n_cont))

    @property
    def code_dim(self) -> int:
        return self.n_cat + self.n_cont

    def build_networks(self):
        channels, size = self.dataset.shape[0], self.dataset.shape[-1]
        q_dim = self.n_cat + self.n_cont * (1 if self.fix_std else 2)
        return (InfoGenerator(self.cfg.z_dim + self.code_dim, channels, size, self.cfg.g_width),
                InfoDiscriminator(channels, size, self.cfg.d_width, q_dim))

    @property
    def knobs(self) -> tuple[str, ...]:
        return ("codes",)

    # -- codes ----------------------------------------------------------------------------------
    def draw_codes(self, n: int, generator: torch.Generator | None = None, fixed: dict | None = None):
        """(categories (N,) long or None, continuous (N, M)) from the prior; ``fixed`` sets some of them."""
        fixed = fixed or {}
        cat = torch.randint(0, max(self.n_cat, 1), (n,), device=self.device, generator=generator) if self.n_cat else None
        cont = torch.rand(n, self.n_cont, device=self.device, generator=generator) * 2 - 1
        if "cat" in fixed:
            cat = torch.as_tensor(fixed["cat"], device=self.device).long().expand(n).clone()
        for i in range(self.n_cont):
            if f"c{i + 1}" in fixed:
                cont[:, i] = torch.as_tensor(fixed[f"c{i + 1}"], device=self.device, dtype=cont.dtype)
        return cat, cont

    def code_vector(self, cat, cont) -> torch.Tensor:
        parts = ([F.one_hot(cat, self.n_cat).float()] if self.n_cat else []) + [cont]
        return torch.cat(parts, 1)

    def random_labels(self, n, generator=None):
        """GANRecipe threads these through its D and G phases as the fakes' "labels": here, the codes."""
        return self.code_vector(*self.draw_codes(n, generator))

    def check_codes(self, codes: dict) -> dict:
        unknown = sorted(set(codes) - set(self.code_names))
        if unknown:
            raise GanforgeError(f"unknown code {', '.join(unknown)}; this InfoGAN has codes {', '.join(self.code_names)} "
                                "(e.g. --code cat=3,c1=0.5).")
        if "cat" in codes and (float(codes["cat"]) != int(codes["cat"]) or not 0 <= int(codes["cat"]) < self.n_cat):
            raise GanforgeError(f"code cat={codes['cat']} is not a category; use an integer in 0..{self.n_cat - 1}.")
        for name, value in codes.items():
            if not math.isfinite(float(value)):
                raise GanforgeError(f"code {name}={value} must be a finite number.")
        return {k: int(v) if k == "cat" else float(v) for k, v in codes.items()}

    # -- losses ---------------------------------------------------------------------------------
    def mutual_information(self, q: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The lower bound's E[log Q(c|x)] terms (weighted), and their logs (as bounds, + H(c))."""
        q, total, logs = q.float(), 0.0, {}
        if self.n_cat:
            log_q_cat = -F.cross_entropy(q[:, :self.n_cat], codes[:, :self.n_cat].argmax(1))
            total = total + log_q_cat
            logs["mi_cat"] = (log_q_cat + math.log(self.n_cat)).detach()
        if self.n_cont:
            c = codes[:, self.n_cat:]
            mean = q[:, self.n_cat:self.n_cat + self.n_cont]
            log_std = torch.zeros_like(mean) if self.fix_std else q[:, self.n_cat + self.n_cont:]
            # factored Gaussian log-likelihood; H(U(-1, 1)) = log 2 per code
            log_q = (-0.5 * math.log(2 * math.pi) - log_std - 0.5 * ((c - mean) / log_std.exp()).pow(2)).sum(1).mean()
            total = total + self.cont_weight * log_q
            logs["mi_cont"] = (log_q + self.n_cont * math.log(2)).detach()
        return self.info_weight * total, logs

    def discriminator_loss(self, batch, fake, codes, step):
        real_logit, _ = self.discriminator(batch.x)
        fake_logit, q = self.discriminator(fake)
        adversarial = discriminator_loss(self.cfg.loss, real_logit, fake_logit, real_target=self.real_target)
        info, logs = self.mutual_information(q, codes)
        return adversarial - info, {"d_loss": adversarial.detach(), **logs}

    def generator_loss(self, batch, fake, codes, step):
        fake_logit, q = self.discriminator(fake)
        real_logit = self.discriminator(batch.x)[0].detach() if self.objective.needs_real_for_generator else None
        adversarial = generator_loss(self.cfg.loss, fake_logit, real_logit)
        info, logs = self.mutual_information(q, codes)
        return adversarial - info, {"g_loss": adversarial.detach(), **{f"g_{k}": v for k, v in logs.items()}}

    # -- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, codes=None, batch_size=512) -> Samples:
        fixed = self.check_codes(codes or {})
        g = torch.Generator(device=self.device).manual_seed(seed)
        z = self.latent(n, generator=g)
        cat, cont = self.draw_codes(n, g, fixed)
        return self.generate_from(z, self.code_vector(cat, cont), nets, batch_size, cat)

    def inference_graph(self, nets):
        """Export / serving: inputs ``z`` (uniform noise) and ``code`` (the categorical code one-hot, then
        the continuous codes), drawn as ``sample`` draws them; ``codes`` fixes some (``{"cat": 3}``)."""
        from ganforge.deploy.graph import InferenceGraph, InputSpec, noise_graph

        base, module = noise_graph(self, nets), self.inference(nets, "generator")

        def make_inputs(n: int, seed: int = 0, codes=None) -> dict[str, torch.Tensor]:
            fixed = self.check_codes(codes or {})
            g = torch.Generator(device=self.device).manual_seed(int(seed))
            z = self.latent(n, generator=g)
            return {"z": z, "code": self.code_vector(*self.draw_codes(n, g, fixed))}

        names = ", ".join(self.code_names)
        code = InputSpec("code", ("batch", self.code_dim), "float32",
                         f"latent codes ({names}): one-hot category, then continuous values (prior U(-1, 1))")
        return InferenceGraph(_CodeGraph(module), base.inputs + [code], make_inputs, base.output, knobs=("codes",),
                              meta={**base.meta, "codes": list(self.code_names), "n_cat": self.n_cat})

    def generate_from(self, z, code_vector, nets=None, batch_size=512, cat=None) -> Samples:
        module = self.inference(nets, "generator")
        was_training = module.training
        module.eval()
        try:
            x = torch.cat([module(z[i:i + batch_size], code_vector[i:i + batch_size]).float().cpu()
                           for i in range(0, len(z), batch_size)])
        finally:
            module.train(was_training)
        return Samples(x, None, {"z": z.cpu(), "codes": code_vector.cpu(), "cat": None if cat is None else cat.cpu()})

    @torch.no_grad()
    def traversal(self, code: str, rows: int | None = None, columns: int = 10, seed: int = 0, nets=None,
                  images: int | None = None) -> Samples:
        """A grid varying one code along each row (columns: its categories, or ``columns`` values from -2 to
        2) with the noise and the other codes fixed per row (drawn from their priors with ``seed``).
        ``rows`` (default 10), or ``images``: about that many images in all."""
        self.check_codes({code: 0})
        if code == "cat":
            values = torch.arange(self.n_cat, dtype=torch.float32)
        else:
            if columns < 2:
                raise GanforgeError(f"a traversal needs at least 2 values of {code}, got {columns}.")
            values = torch.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, columns)
        rows = rows if rows is not None else max(1, (images or 10 * len(values)) // len(values))
        if not 1 <= rows <= 1000:
            raise GanforgeError(f"a traversal has 1 to 1000 rows, got {rows}.")
        g = torch.Generator(device=self.device).manual_seed(seed)
        z = self.latent(rows, generator=g).repeat_interleave(len(values), 0)
        cat, cont = self.draw_codes(rows, g)
        cat = None if cat is None else cat.repeat_interleave(len(values), 0)
        cont = cont.repeat_interleave(len(values), 0)
        tiled = values.to(self.device).repeat(rows)
        if code == "cat":
            cat = tiled.long()
        else:
            cont[:, int(code[1:]) - 1] = tiled
        out = self.generate_from(z, self.code_vector(cat, cont), nets, cat=cat)
        out.extra.update({"nrow": len(values), "values": values.tolist(), "code": code})
        return out

    def preview(self, n, seed=0, nets=None):
        """Training grids show the categorical code's traversal (one column per category)."""
        code = "cat" if self.n_cat else "c1"
        return self.traversal(code, rows=max(1, n // (self.n_cat or 10)), seed=seed, nets=nets)


class _CodeGraph(nn.Module):
    """(z, code) -> images: the generator as export and the server call it."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z, code):
        return self.generator(z, code)

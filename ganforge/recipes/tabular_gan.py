"""tabular-gan: a conditional tabular GAN in the manner of CTGAN (Xu et al., 2019).

* data: the ``tabular`` dataset (CTGAN mode-specific normalisation + one-hot categoricals);
* generator: residual MLP, tanh / Gumbel-softmax output spans (``ganforge.tabular.nets``);
* critic: PacGAN packing of ``options.pac`` rows (default 10; the batch size must be a multiple);
* objective: WGAN-GP (``gp_weight``, 10 by default here) with the packed gradient penalty, plus
  CTGAN's conditional cross-entropy that makes G honour the category its condition asks for;
* training-by-sampling: every phase draws its own conditions and the *matching* real rows
  (``ganforge.tabular.sampler``); the trainer's uniform batch only sets the batch size.
  The condition draws are seeded from the torch RNG, which checkpoints save, so resume is exact.
* BC-loss (``--bc-weight``): labels = the target column. Fake rows are in the dataset's encoded
  space (what the frozen classifiers were trained on), the real rows passed to it are the ones
  drawn for the same conditions (same labels), so the per-class posterior statistics are comparable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ganforge.data import Batch
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase, Recipe
from ganforge.tabular.nets import PacDiscriminator, TabularGenerator

DEFAULT_PAC = 10


@RECIPES.register("tabular-gan")
class TabularGAN(Recipe):
    default_architecture = "tabular"
    conditional = False  # labels are optional: the condition vector carries them when the table has a target

    def __init__(self, cfg, dataset):
        if not hasattr(dataset, "transform"):
            raise GanforgeError(f"recipe 'tabular-gan' models tables; dataset {dataset.name!r} is not one. Use "
                                "--data tabular --data-path FILE.csv [--target COLUMN].")
        pac = (cfg.options or {}).get("pac", DEFAULT_PAC)
        if isinstance(pac, bool) or not isinstance(pac, int) or pac < 1:
            raise GanforgeError(f"option 'pac' is {pac!r}; it must be a positive integer (rows per packed critic input).")
        if cfg.batch_size % pac:
            raise GanforgeError(f"batch size {cfg.batch_size} is not a multiple of pac {pac}; choose e.g. "
                                f"--batch-size {max(pac, cfg.batch_size // pac * pac)}.")
        self.pac = pac
        super().__init__(cfg, dataset)
        self.num_classes = dataset.num_classes  # generic samplers then pass labels, which G turns into conditions
        self.conditions = dataset.conditions
        self._x, self._y = dataset.x, dataset.y

    def build_networks(self):
        ds, cfg = self.dataset, self.cfg
        generator = TabularGenerator(ds.transform, ds.conditions, cfg.z_dim, cfg.g_width)
        discriminator = PacDiscriminator(ds.transform.output_dim, ds.conditions.cond_dim, self.pac, cfg.d_width)
        return generator, discriminator

    def to(self, device) -> "TabularGAN":
        super().to(device)
        self._x = self.dataset.x.to(self.device)
        self._y = None if self.dataset.y is None else self.dataset.y.to(self.device)
        return self

    # -- training-by-sampling -------------------------------------------------------------------
    def draw(self, n: int):
        """Conditions and the real rows that match them, from a numpy RNG seeded by the torch RNG."""
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        c = self.conditions.sample_train(n, rng)
        as_tensor = lambda a: torch.from_numpy(a).to(self.device)  # noqa: E731
        rows = as_tensor(c.rows)
        labels = self._y[rows] if self._y is not None else None
        return as_tensor(c.cond), labels, as_tensor(c.column), as_tensor(c.category), Batch(self._x[rows], labels)

    def phases(self) -> list[Phase]:
        return [Phase("D", "discriminator", self.discriminator_phase, repeat=self.cfg.n_critic),
                Phase("G", "generator", self.generator_phase)]

    def discriminator_phase(self, batch: Batch, step: int):
        n = len(batch.x)
        cond, labels, _, _, real = self.draw(n)
        with torch.no_grad():
            fake = self.generator(self.latent(n), labels, cond)
        real_scores = self.discriminator(real.x, None, cond).float()
        fake_scores = self.discriminator(fake, None, cond).float()
        wasserstein = fake_scores.mean() - real_scores.mean()
        loss, logs = wasserstein, {"d_loss": wasserstein.detach(), "w_distance": -wasserstein.detach()}
        if self.cfg.gp_weight > 0:
            gp = self.gradient_penalty(real.x, fake, cond)
            loss = loss + self.cfg.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """WGAN-GP (Gulrajani et al., 2017) on packs: one interpolation weight and one gradient norm per pack."""
        packs = len(real) // self.pac
        alpha = torch.rand(packs, 1, 1, device=real.device).expand(packs, self.pac, 1).reshape(-1, 1)
        x = (alpha * real + (1 - alpha) * fake.float()).requires_grad_(True)
        c = cond.float().requires_grad_(cond.shape[1] > 0)
        inputs = [x, c] if cond.shape[1] else [x]
        scores = self.discriminator(x, None, c).float()
        grads = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
        grad = torch.cat([g.reshape(len(real), -1) for g in grads], dim=1).reshape(packs, -1)
        return ((grad.norm(2, dim=1) - 1) ** 2).mean()

    def generator_phase(self, batch: Batch, step: int):
        n = len(batch.x)
        cond, labels, column, category, real = self.draw(n)
        fake, raw = self.generator(self.latent(n), labels, cond, return_logits=True)
        adversarial = -self.discriminator(fake, None, cond).float().mean()
        conditional = self.nets["generator"].layout.conditional_loss(raw, column, category)
        loss = adversarial + conditional
        logs = {"g_loss": adversarial.detach(), "cond_loss": conditional.detach()}
        if self.bc is not None:  # the base recipe's BC path, with the rows drawn for these conditions
            bc = self.bc(fake, labels, real)
            loss = loss + self.cfg.bc_weight * bc
            logs["bc_loss"] = bc.detach()
        return loss, logs

    # -- sampling a table ---------------------------------------------------------------------
    @torch.no_grad()
    def sample_frame(self, n: int, seed: int = 0, condition: dict | None = None, label: int | None = None,
                     module=None, batch_size: int = 2048) -> pd.DataFrame:
        """n synthetic rows as a DataFrame, distributed like the data (labels by their frequency).

        ``condition={column: value}`` fixes one categorical feature column and/or the target (by
        value); ``label`` fixes the target by class index (``--class``). Unknown columns or
        categories are a clear error.
        """
        if n < 1:
            raise GanforgeError(f"the number of rows to sample must be at least 1, got {n}.")
        label_from_condition, column, category = self._parse_condition(condition or {})
        if label is not None:
            if not self.num_classes:
                raise GanforgeError("this table has no target column; drop --class (or train with --target).")
            if not 0 <= label < self.num_classes:
                raise GanforgeError(f"class {label} does not exist; the target has classes 0..{self.num_classes - 1} "
                                    f"({', '.join(self.dataset.class_names)}).")
        label = label if label is not None else label_from_condition
        rng = np.random.default_rng(seed)
        c = self.conditions.sample_original(n, rng, label=label, column=column, category=category)
        module = module if module is not None else self.nets["generator"]
        was_training = module.training
        module.eval()
        try:
            g = torch.Generator(device=self.device).manual_seed(seed)
            z = torch.randn(n, self.cfg.z_dim, device=self.device, generator=g)
            cond = torch.from_numpy(c.cond).to(self.device)
            x = torch.cat([module(z[i:i + batch_size], None, cond[i:i + batch_size]).float().cpu()
                           for i in range(0, n, batch_size)])
        finally:
            module.train(was_training)
        if column is not None:
            # G is trained to honour its condition (conditional loss) but not forced to: pin the asked-for
            # category so that every row satisfies the condition (the rest of the row was generated for it)
            span = self.dataset.transform.category_span(self.dataset.transform.categorical_columns[column].name)
            x[:, span.start:span.end] = 0.0
            x[:, span.start + category] = 1.0
        return self.dataset.decode(x, c.labels if self.num_classes else None)

    def _parse_condition(self, condition: dict):
        transform = self.dataset.transform
        label = column = category = None
        categorical = [c.name for c in transform.categorical_columns]
        for name, value in condition.items():
            if name == transform.target:
                label = transform.target_column.code_of(value)
            elif name in categorical:
                if column is not None:
                    raise GanforgeError("condition on at most one feature column (plus the target), as CTGAN does.")
                column = categorical.index(name)
                category = transform.categorical_columns[column].code_of(value)
            else:
                allowed = categorical + ([transform.target] if transform.target else [])
                raise GanforgeError(f"cannot condition on column {name!r}: conditions take one categorical column "
                                    f"({', '.join(map(repr, allowed)) or 'this table has none'}).")
        return label, column, category

"""tabular-gan: a conditional tabular GAN in the manner of CTGAN (Xu et al., 2019).

* data: the ``tabular`` dataset (CTGAN mode-specific normalisation + one-hot categoricals);
* generator: residual MLP, tanh / Gumbel-softmax output spans (``ganforge.tabular.nets``);
* critic: PacGAN packing of ``options.pac`` rows (default 10; the batch size must be a multiple);
* objective: WGAN-GP (``gp_weight``, 10 by default here) with the packed gradient penalty, plus
  CTGAN's conditional cross-entropy that makes G honour the category its condition asks for;
* training-by-sampling: the table dataset brings its own sampler (``ConditionalRowSampler`` in
  ``ganforge.data.tabular``): every batch carries conditions and the *matching* real rows, and each
  phase draws a fresh batch. Draws are seeded by the sampler's position, so resume is exact.
* BC-loss (``--bc-weight``): labels = the target column. Fake rows are in the dataset's encoded
  space (what the frozen classifiers were trained on), the real rows passed to it are the ones
  drawn for the same conditions (same labels), so the per-class posterior statistics are comparable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dataclasses import dataclass

from ganforge.data import Batch
from ganforge.errors import GanforgeError
from ganforge.losses.regularizers import gradient_penalty
from ganforge.options import option_field, parse_options
from ganforge.recipes import RECIPES
from ganforge.recipes.base import Phase
from ganforge.recipes.gan import GANRecipe
from ganforge.tabular.nets import PacDiscriminator, TabularGenerator

DEFAULT_PAC = 10


@dataclass
class TabularOptions:
    pac: int = option_field(DEFAULT_PAC, "rows per packed critic input (PacGAN; the batch size must be a multiple)")


@RECIPES.register("tabular-gan")
class TabularGAN(GANRecipe):
    default_architecture = "tabular"
    conditional = False  # labels are optional: the condition vector carries them when the table has a target
    task = "table"
    Options = TabularOptions

    def __init__(self, cfg, dataset):
        if not hasattr(dataset, "transform"):
            raise GanforgeError(f"recipe 'tabular-gan' models tables; dataset {dataset.name!r} is not one. Use "
                                "--data tabular --data-path FILE.csv [--target COLUMN].")
        pac = parse_options(TabularOptions, cfg.options, "recipe 'tabular-gan'").pac
        if pac < 1:
            raise GanforgeError(f"option 'pac' is {pac!r}; it must be a positive integer (rows per packed critic input).")
        if cfg.batch_size % pac:
            raise GanforgeError(f"batch size {cfg.batch_size} is not a multiple of pac {pac}; choose e.g. "
                                f"--batch-size {max(pac, cfg.batch_size // pac * pac)}.")
        self.pac = pac
        super().__init__(cfg, dataset)
        self.num_classes = dataset.num_classes  # generic samplers then pass labels, which G turns into conditions
        self.conditions = dataset.conditions

    @property
    def knobs(self) -> tuple[str, ...]:
        return ("labels",) if self.num_classes else ()

    def build_networks(self):
        ds, cfg = self.dataset, self.cfg
        generator = TabularGenerator(ds.transform, ds.conditions, cfg.z_dim, cfg.g_width)
        discriminator = PacDiscriminator(ds.transform.output_dim, ds.conditions.cond_dim, self.pac, cfg.d_width)
        return generator, discriminator

    # -- phases: batches come from the table's training-by-sampling sampler (ganforge.data.tabular) --
    def phases(self) -> list[Phase]:
        return [Phase("D", "discriminator", self.discriminator_phase, repeat=self.cfg.n_critic),
                Phase("G", "generator", self.generator_phase)]

    def discriminator_phase(self, batch: Batch, step: int):
        cond = batch["cond"]
        with torch.no_grad():
            fake = self.generator(self.latent(batch.size), batch.y, cond)
        real_scores = self.discriminator(batch.x, None, cond).float()
        fake_scores = self.discriminator(fake, None, cond).float()
        wasserstein = fake_scores.mean() - real_scores.mean()
        loss, logs = wasserstein, {"d_loss": wasserstein.detach(), "w_distance": -wasserstein.detach()}
        if self.cfg.gp_weight > 0:  # the shared WGAN-GP, per pack and through the condition too
            gp = gradient_penalty(self.discriminator, batch.x, fake, None, pack=self.pac, extra=(cond,))
            loss = loss + self.cfg.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def generator_phase(self, batch: Batch, step: int):
        cond = batch["cond"]
        fake, raw = self.generator(self.latent(batch.size), batch.y, cond, return_logits=True)
        adversarial = -self.discriminator(fake, None, cond).float().mean()
        conditional = self.nets["generator"].layout.conditional_loss(raw, batch["column"], batch["category"])
        logs = {"g_loss": adversarial.detach(), "cond_loss": conditional.detach()}
        # the shared BC path; the real rows of this batch were drawn for the same conditions (same labels)
        return self.calibrate(adversarial + conditional, logs, fake, batch.y, batch)

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
        x, labels = self._sample_encoded(n, seed, label, column, category, module, batch_size)
        return self.dataset.decode(x, labels if self.num_classes else None)

    @torch.no_grad()
    def _sample_encoded(self, n, seed, label=None, column=None, category=None, module=None, batch_size=2048):
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
        return x, c.labels

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

"""``pix2pixhd``: Pix2PixHD (Wang, Liu, Zhu, Tao, Kautz & Catanzaro, "High-Resolution Image Synthesis and
Semantic Manipulation with Conditional GANs", CVPR 2018), label maps -> images (``--data label-maps``).

- G1, the global generator (``GlobalGenerator``) on the one-hot map; with ``n_local_enhancers: k`` > 0
  the **coarse-to-fine generator**: G1 (width ``g_width * 2**k``) on the map downsampled k times and k
  local enhancers G2 (``ganforge.nets.local_enhancer``, networks ``enhancer1``..``enhancerk``) whose
  front-end features are summed with the coarser level's last feature map (G1's output layer removed).
- The paper's schedule, in one run: G1 alone at 1/2**k of the size for ``global_steps``; then each
  enhancer joins (level L at 1/2**(k-L) of the size, for ``global_steps`` each, the finest to the end)
  and trains alone, the coarser levels frozen, for ``fix_global_steps`` (the official
  ``niter_fix_global``: only ``model<k>`` in its optimiser), then everything is fine-tuned together with
  a fresh optimiser (``update_fixed_params``). D sees each level's images at that level's size and its
  optimiser restarts with each level (the official code runs the levels as separate trainings, each
  loading the previous one's G and D); each level keeps lr constant, then decays it linearly to 0 from
  the same fraction of the level as ``lr_decay_start`` is of ``--steps``. The level reached is recipe
  state: sampling from a checkpoint uses it (a coarser level's output is upsampled bilinearly).
- **Instance boundary maps** (the dataset's ``instances`` folder): the boundary map (1 where a
  4-neighbour has another instance id, ``get_edges``) concatenated to the one-hot map as G's and D's
  input; sampling then needs the instance maps too (``--instances DIR``, ``instances=``).
- **Instance-wise feature encoder** (``feat_num: 3``, Sec. 3.4; ``ganforge.nets.feature_encoder``): E maps
  the real image to ``feat_num`` channels averaged over each instance (or class region), concatenated to
  G's input (not D's); E trains with G (in every G optimiser group, as the official code). After training
  (at every checkpoint, the official ``encode_features.py``) the region features of the training images
  are clustered per class by k-means (``feat_clusters``, regions larger than 1/64 of the image); sampling
  paints each region with a random centre of its class (``--seed``: multi-modal synthesis) or encodes
  ``style`` images (their features pooled over the input map's regions: the paper's encoded-image mode).
- Multi-scale D (3 scales x 3 layers, scaled to the image), LSGAN summed over scales, D's loss halved,
  feature matching (lambda 10, weighted 4 / (n_layers + 1) / num_D, as the official code); Adam 2e-4
  (0.5, 0.999). No VGG perceptual loss (no ImageNet weights offline): see docs/TRANSLATION.md.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.label_maps import instance_boundaries
from ganforge.errors import GanforgeError
from ganforge.nets.feature_encoder import FeatureEncoder, paint, region_features, region_mean, regions
from ganforge.nets.local_enhancer import LocalEnhancer, coarse_to_fine, pyramid
from ganforge.nets.multiscale import feature_matching
from ganforge.nets.spade import GlobalGenerator
from ganforge.options import option_field
from ganforge.recipes import RECIPES
from ganforge.recipes.base import OptimizerGroup, Phase, Samples, Schedule, adversarial_groups, decay_start
from ganforge.recipes.pix2pix import init_weights
from ganforge.recipes.semantic import LabelToImage, SemanticOptions, one_hot
from ganforge.recipes.translation import evaluating


@dataclass
class Pix2PixHDOptions(SemanticOptions):
    n_local_enhancers: int = option_field(0, "local enhancers G2 around G1 (0: G1 alone at full size)")
    local_blocks: int = option_field(3, "residual blocks of each local enhancer (the paper: 3)")
    global_steps: int = option_field(-1, "steps of G1 alone (and of each coarser enhancer level) before the next "
                                         "level joins (-1: --steps / (n_local_enhancers + 1))")
    fix_global_steps: int = option_field(-1, "steps a new enhancer trains alone, coarser levels frozen "
                                             "(niter_fix_global; -1: a tenth of the finest level's steps)")
    feat_num: int = option_field(0, "channels of the instance-wise feature encoder (0: none; the paper: 3)")
    encoder_width: int = option_field(16, "width of the feature encoder's first layer (the paper's nef: 16)")
    feat_clusters: int = option_field(10, "k-means centres per class of the encoded features (the paper: 10)")


@RECIPES.register("pix2pixhd")
class Pix2PixHD(LabelToImage):
    Options = Pix2PixHDOptions
    knobs = ("inputs", "instances")
    gan_loss = "lsgan"
    paper_scales, paper_layers = 3, 3

    def __init__(self, cfg, dataset):
        self.uses_instances = "instance_map" in dataset.fields
        super().__init__(cfg, dataset)
        o, c = self.options, dataset.shape[0]
        self.k = k = o.n_local_enhancers
        self._centers = self._counts = None  # k-means centres of the encoded features, refitted after training steps
        self._stale = True
        if o.feat_num:
            if o.feat_num < 0 or o.encoder_width < 1 or o.feat_clusters < 1:
                raise GanforgeError(f"pix2pixhd needs feat_num >= 0, encoder_width >= 1 and feat_clusters >= 1, got "
                                    f"{o.feat_num}, {o.encoder_width} and {o.feat_clusters}.")
            n_down = max(1, min(4, int(math.log2(dataset.shape[-1])) - 2))
            init_weights(self.add_network("encoder", FeatureEncoder(c, o.feat_num, o.encoder_width, n_down)))
            self.knobs = self.knobs + ("style",)
        if k == 0:
            self.inference_networks = ("generator",) + self.encoder_names
            return
        if o.local_blocks < 0 or min(o.global_steps, o.fix_global_steps) < -1:
            raise GanforgeError("pix2pixhd's local_blocks must be >= 0 and global_steps / fix_global_steps >= 0 "
                                "(or -1 for the defaults).")
        self.global_steps = o.global_steps if o.global_steps >= 0 else cfg.steps // (k + 1)
        if k * self.global_steps > cfg.steps:  # equal: the coarser levels only (a run to resume with more steps)
            raise GanforgeError(f"pix2pixhd: {k} coarser level(s) of global_steps {self.global_steps} exceed --steps "
                                f"{cfg.steps}; lower global_steps or raise --steps.")
        finest = cfg.steps - k * self.global_steps
        self.fix_steps = o.fix_global_steps if o.fix_global_steps >= 0 else finest // 10
        for n in range(1, k + 1):
            init_weights(self.add_network(f"enhancer{n}", LocalEnhancer(self.generator_channels(), c, cfg.g_width * 2 ** (k - n),
                                                                        o.local_blocks)))
        self.inference_networks = ("generator",) + self.enhancer_names + self.encoder_names
        self.partial_forward = True  # output layers of the coarser levels take no part once the next joins
        self.level = 0 if self.global_steps else k

    def build_generator(self, channels, size):
        k = self.options.n_local_enhancers
        if k < 0 or size >> k < 8:
            raise GanforgeError(f"pix2pixhd: n_local_enhancers must be >= 0 and leave G1 at least 8x8 (image size "
                                f"{size} allows up to {max(0, int(math.log2(size)) - 3)}), got {k}.")
        g1_size = size >> k
        g = GlobalGenerator(self.generator_channels(), channels, self.cfg.g_width * 2 ** k, max(1, min(4, int(math.log2(g1_size)) - 3)))
        init_weights(g)
        return g

    def condition_channels(self) -> int:
        """G and D see [one-hot map, instance boundary map] when trained with instance maps."""
        return self.classes + int(self.uses_instances)

    def generator_channels(self) -> int:
        """G's input: the map input plus the encoded features (D does not see them)."""
        return self.condition_channels() + self.options.feat_num

    @property
    def encoder_names(self) -> tuple[str, ...]:
        return ("encoder",) if self.options.feat_num else ()

    def fm_scale(self) -> float:
        return 4.0 / (self.d_layers + 1)

    # -- the coarse-to-fine schedule --------------------------------------------------------------
    @property
    def enhancer_names(self) -> tuple[str, ...]:
        return tuple(f"enhancer{n}" for n in range(1, self.k + 1))

    def stage(self, step: int) -> tuple[int, bool]:
        """(level, fixed): the finest level trained at ``step`` (0: G1 alone) and whether the coarser
        levels are frozen (the first ``fix_global_steps`` of an enhancer's level)."""
        if self.k == 0:
            return 0, False
        level = self.k if self.global_steps == 0 else min(step // self.global_steps, self.k)
        return level, level > 0 and step - level * self.global_steps < self.fix_steps

    def g_group(self, step: int) -> str:
        level, fixed = self.stage(step)
        return "generator" if level == 0 else f"enhancer{level}" if fixed else f"joint{level}"

    def optimizer_groups(self):
        enc = self.encoder_names  # E trains with whatever part of G trains (the official optimizer_G)
        groups = adversarial_groups(self.cfg, ("generator",) + enc)
        g = groups["generator"]
        for n in range(1, self.k + 1):
            groups[f"enhancer{n}"] = OptimizerGroup((f"enhancer{n}",) + enc, g.lr, g.betas, optimizer=g.optimizer)
            groups[f"joint{n}"] = OptimizerGroup(("generator",) + self.enhancer_names[:n] + enc, g.lr, g.betas,
                                                 optimizer=g.optimizer)
        return groups

    def phases(self):
        if self.k == 0:
            return super().phases()
        at = lambda group: (lambda step: self.g_group(step) == group)  # noqa: E731
        names = ["generator"] + [f"{kind}{n}" for n in range(1, self.k + 1) for kind in ("enhancer", "joint")]
        return [Phase("D", "discriminator", self.discriminator_loss)] + \
               [Phase("G", name, self.generator_loss, new_batch=False, when=at(name)) for name in names]

    def schedule(self, step):
        """Per level: constant lr, then linear decay to 0 from the fraction of the level that
        ``lr_decay_start`` is of ``--steps``; D's optimiser restarts when a level begins."""
        if self.k == 0:
            return super().schedule(step)
        level, _ = self.stage(step)
        start = level * self.global_steps
        end = self.cfg.steps if level == self.k else start + self.global_steps
        factor = 1.0
        first_decay = decay_start(self.cfg)  # lr_decay_start, as a step (it may be given as a fraction)
        if first_decay:
            decay_from = start + round((end - start) * first_decay / self.cfg.steps)
            if step >= decay_from:
                factor = max(0.0, 1.0 - (step - decay_from) / max(1, end - decay_from))
        return Schedule(lr={name: factor for name in self.optimizer_groups()},
                        reset=("discriminator",) if level > 0 and step == start else ())

    def after_step(self, phase):
        self._stale = True  # the encoder may have changed: refit the clusters before they are next used

    def state_dict(self):
        state = {"level": self.level} if self.k else {}
        if self.options.feat_num:
            centers, counts = self.feature_clusters()
            state.update(feature_centers=centers, feature_counts=counts)
        return state

    def load_state_dict(self, state):
        state = dict(state)
        if self.options.feat_num:
            if "feature_centers" not in state or "feature_counts" not in state:
                raise GanforgeError("this pix2pixhd checkpoint lacks the feature clusters of its encoder (feat_num > 0).")
            centers, counts = torch.as_tensor(state.pop("feature_centers")), torch.as_tensor(state.pop("feature_counts"))
            if tuple(centers.shape) != (self.classes, self.options.feat_clusters, self.options.feat_num) or \
                    tuple(counts.shape) != (self.classes,):
                raise GanforgeError(f"this pix2pixhd checkpoint's feature clusters have shape {tuple(centers.shape)}; "
                                    f"the config wants {(self.classes, self.options.feat_clusters, self.options.feat_num)}.")
            self._centers, self._counts, self._stale = centers.float(), counts.long(), False
        if not self.k:
            return super().load_state_dict(state)
        self.level = int(state.get("level", self.k))

    # -- losses -----------------------------------------------------------------------------------
    def condition(self, maps: torch.Tensor, instances: torch.Tensor | None) -> torch.Tensor:
        """G's (and D's) map input: one-hot classes, plus the instance boundary map when trained with one."""
        seg = one_hot(maps, self.classes)
        if self.uses_instances:
            seg = torch.cat([seg, instance_boundaries(instances.to(seg.device)).to(seg.dtype)], 1)
        return seg

    def generate(self, seg: torch.Tensor, level: int, nets=None) -> torch.Tensor:
        if self.k == 0:
            return (self.inference(nets, "generator") if nets is not None else self.generator)(seg)
        pick = (lambda name: self.inference(nets, name)) if nets is not None else (lambda name: getattr(self, name))
        return coarse_to_fine(pick("generator"), [pick(n) for n in self.enhancer_names], seg, level)

    def _training_inputs(self, batch, step):
        """(G's full-size input, D's map and the real image at the level's size, level) of a training step.
        G's input is the map input, plus the real image's features pooled per region (feat_num > 0)."""
        self.level = level = self.stage(step)[0]
        instances = batch["instance_map"] if self.uses_instances else None
        seg = self.condition(batch["label_map"], instances)
        g_in = seg
        if self.options.feat_num:
            index, cls = regions(batch["label_map"], instances)
            g_in = torch.cat([seg, region_mean(self.encoder(batch.x).float(), index, len(cls))], 1)
        down = self.k - level
        return g_in, pyramid(seg, down)[-1], pyramid(batch.x, down)[-1], level

    def discriminator_loss(self, batch, step):
        with torch.no_grad():
            g_in, seg_d, real, level = self._training_inputs(batch, step)
            fake = self.generate(g_in, level)
        loss = self.d_objective(self._d(seg_d, real), self._d(seg_d, fake))
        return loss, {"d_loss": loss.detach()}

    def generator_loss(self, batch, step):
        g_in, seg_d, real, level = self._training_inputs(batch, step)
        fake = self.generate(g_in, level)
        fake_out = self._d(seg_d, fake)
        with torch.no_grad():
            real_out = self._d(seg_d, real)
        adv = self.g_objective(fake_out)
        fm = feature_matching(real_out, fake_out) * self.fm_scale()
        return adv + self.options.lambda_fm * fm, {"g_loss": adv.detach(), "feature_matching": fm.detach()}

    def _check_instances(self, instances, inputs) -> torch.Tensor | None:
        if not self.uses_instances:
            if instances is not None:
                raise GanforgeError("this pix2pixhd model was trained without instance maps; drop --instances / "
                                    "instances=.")
            return None
        if instances is None:
            raise GanforgeError("this pix2pixhd model was trained with instance boundary maps: give the instance maps "
                                "too (ganforge sample RUN --input MAPS --instances DIR, or gen.translate(maps, "
                                "instances=ids)).")
        instances = torch.as_tensor(instances)
        if instances.dim() != 3 or len(instances) != len(inputs) or tuple(instances.shape[1:]) != self.input_shape():
            raise GanforgeError(f"instance maps have shape {tuple(instances.shape)}; give one id map "
                                f"{self.input_shape()} per label map ({len(inputs)}).")
        return instances.long()

    # -- the instance-wise features: k-means centres per class, or encoded style images -----------------
    @torch.no_grad()
    def feature_clusters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(centres (classes, feat_clusters, feat_num), how many of each class's centres are used): k-means
        (scikit-learn) of the training images' region features per class, refitted after training steps.
        As the official ``encode_features.py``: only regions larger than 1/64 of the image take part (a
        class with none: all its regions); a class never seen gets no centre (its features stay 0)."""
        if not self._stale and self._centers is not None:
            return self._centers, self._counts
        from sklearn.cluster import KMeans

        o, d, encoder = self.options, self.dataset, self.nets["encoder"]
        means, classes, areas = [], [], []
        with evaluating(encoder):
            for i in range(0, len(d), 256):
                image = d.to_model(d.x[i:i + 256], "image").to(self.device)
                labels = d.fields["label_map"][i:i + 256]
                index, cls = regions(labels, d.fields["instance_map"][i:i + 256] if self.uses_instances else None)
                mean, area = region_features(encoder(image).float().cpu(), index, len(cls))
                means.append(mean), classes.append(cls), areas.append(area)
        means, classes, areas = torch.cat(means).double().numpy(), torch.cat(classes), torch.cat(areas)
        large = areas > d.x.shape[-1] * d.x.shape[-2] / 64
        centers, counts = torch.zeros(self.classes, o.feat_clusters, o.feat_num), torch.zeros(self.classes, dtype=torch.long)
        for c in range(self.classes):
            mine = classes == c
            rows = means[(mine & large if (mine & large).any() else mine).numpy()]
            k = min(o.feat_clusters, len(np.unique(rows, axis=0)))
            if k:
                centers[c, :k] = torch.from_numpy(KMeans(k, n_init=10, random_state=0).fit(rows).cluster_centers_).float()
                counts[c] = k
        self._centers, self._counts, self._stale = centers, counts, False
        return centers, counts

    def features(self, maps, instances, seed, nets, style) -> torch.Tensor:
        """G's extra input for label maps: per region, a random k-means centre of its class (drawn from
        ``seed``), or the ``style`` images' encoded features pooled over the maps' regions."""
        labels = maps if maps.dim() == 3 else maps.argmax(1)
        index, cls = regions(labels, instances)
        if style is None:
            centers, counts = self.feature_clusters()
            pick = (torch.rand(len(cls), generator=torch.Generator().manual_seed(seed)) * counts[cls].clamp_min(1)).long()
            return paint(centers[cls, pick], index)
        style = self.style_images(style, len(labels))
        encoder = self.inference(nets, "encoder")
        with evaluating(encoder):
            encoded = torch.cat([encoder(chunk.to(self.device).float()).float().cpu() for chunk in style.split(256)])
        return region_mean(encoded.expand(len(labels), -1, -1, -1), index, len(cls))

    # -- sampling and evaluation ------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n, seed=0, nets=None, inputs=None, instances=None, style=None, **knobs):
        self.check_maps(inputs)
        instances = self._check_instances(instances, inputs)
        if style is not None and not self.options.feat_num:
            raise GanforgeError("this pix2pixhd run has no feature encoder (it was trained with feat_num 0); drop "
                                "--style / style=, or train with --options '{\"feat_num\": 3}'.")
        feats = self.features(inputs, instances, seed, nets, style) if self.options.feat_num else None
        names = ("generator",) + (self.enhancer_names if self.k else ())
        nets = {name: self.inference(nets, name) for name in names}
        outs = []
        with contextlib.ExitStack() as stack:
            for net in nets.values():
                stack.enter_context(evaluating(net))
            for i in range(0, len(inputs), 256):
                chunk = inputs[i:i + 256].to(self.device)
                inst = None if instances is None else instances[i:i + 256]
                g_in = self.condition(chunk, inst)
                if feats is not None:
                    g_in = torch.cat([g_in, feats[i:i + 256].to(self.device)], 1)
                out = self.generate(g_in, self.level if self.k else 0, nets)
                if out.shape[-1] != chunk.shape[-1]:  # a coarser level reached so far: shown at full size
                    out = F.interpolate(out, size=chunk.shape[-2:], mode="bilinear", align_corners=False)
                outs.append(out.float().cpu())
        return Samples(torch.cat(outs))

    def preview(self, n, seed=0, nets=None):
        d = self.dataset
        maps, real = d.fields["label_map"][:8], d.to_model(d.x[:8], "image")
        inst = d.fields["instance_map"][:8] if self.uses_instances else None
        out = self.sample(len(maps), seed=seed, nets=nets, inputs=maps, instances=inst).x
        rows = [self.colour(maps), out, real]
        if self.options.feat_num:  # map | random centres | the real image's own features | real
            rows.insert(2, self.sample(len(maps), nets=nets, inputs=maps, instances=inst, style=real).x)
        return Samples(torch.cat(rows), extra={"nrow": len(maps)})

    def eval_pairs(self, dataset, **knobs):
        if self.uses_instances:
            knobs = {**knobs, "instances": dataset.fields["instance_map"]}
        return super().eval_pairs(dataset, **knobs)

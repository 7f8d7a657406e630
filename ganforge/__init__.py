"""ganforge: train, evaluate and use Generative Adversarial Networks.

    import ganforge
    run = ganforge.train(ganforge.Config(recipe="dcgan", data="digits", steps=2000))
    gen = ganforge.load(run)
    images = gen.sample(64, seed=0)            # model space, [-1, 1]
"""
from ganforge.version import __version__  # noqa: E402,F401

from ganforge.config import Config, load_config, make_config  # noqa: E402,F401
from ganforge.errors import GanforgeError  # noqa: E402,F401

# The training subpackage shares its name with the ``train`` function below. Import the (light)
# package first: Python then never rebinds ``ganforge.train``, so the function stays the API.
import ganforge.train as _training_package  # noqa: E402,F401


def train(config=None, resume: bool = False, **overrides):
    """Train from a Config, a dict or a YAML path (+ keyword overrides); returns the run folder."""
    from ganforge.train.trainer import train as _train

    if isinstance(config, Config):
        cfg = config.replace(**overrides) if overrides else config
        from ganforge.config import validate

        validate(cfg)
    elif isinstance(config, dict):
        cfg = make_config(config, overrides)
    else:
        cfg = load_config(config, overrides)
    from ganforge.metrics.callback import evaluation_callbacks

    return _train(cfg, resume=resume, extra_callbacks=evaluation_callbacks(cfg))


def load(path, device: str = "cpu"):
    """A trained generator from a run folder, a checkpoint file or an exported hub folder
    (see ganforge.pretrained.TrainedGenerator)."""
    from ganforge.pretrained import TrainedGenerator

    return TrainedGenerator.from_path(path, device=device)


def export(run, format: str = "onnx", out=None):
    """Export a run (or a loaded generator) as ONNX, TorchScript or a hub folder (see ganforge.deploy.export)."""
    from ganforge.deploy.export import export as _export

    return _export(run, format=format, out=out)


def distill(run, width: int, out, **options):
    """Distil a run's generator into a student of generator width ``width``, written as the run folder
    ``out`` (see ganforge.distillation.distill for the options); returns ``out``."""
    from ganforge.distillation import distill as _distill

    return _distill(run, width, out, **options)

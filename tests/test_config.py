import pytest
import yaml

from ganforge.config import Config, load_config, make_config
from ganforge.errors import GanforgeError


def test_defaults_are_the_dcgan_digits_main_job():
    cfg = make_config()
    assert (cfg.recipe, cfg.data, cfg.batch_size, cfg.beta1) == ("dcgan", "digits", 64, 0.5)
    # configs/data/digits.yaml tunes the main job (one thread, a faster Adam decayed over the second half, R1 on D)
    assert (cfg.threads, cfg.steps, cfg.lr_g, cfg.lr_d, cfg.lr_decay_start) == (1, 5000, 5e-4, 5e-4, 0.5)
    assert cfg.r1_gamma == 1.0
    other = make_config({"data": "fashion-mnist"})  # the DCGAN paper's settings elsewhere
    assert (other.threads, other.steps, other.lr_g, other.lr_decay_start, other.r1_gamma) == (0, 3000, 2e-4, 0, 0)


def test_the_mnist_cgan_job_seeks_modes_and_nothing_else_does():
    # configs/data/mnist.yaml: without MSGAN's term the cGAN ignores z (docs/BENCHMARKS.md "cGAN on MNIST-10k")
    assert make_config({"recipe": "cgan", "data": "mnist"}).ms_weight == 1.0
    assert make_config({"recipe": "acgan", "data": "mnist"}).ms_weight == 0.0
    assert make_config({"recipe": "cgan", "data": "digits"}).ms_weight == 0.0
    assert make_config({"recipe": "cgan", "data": "mnist", "ms_weight": 0}).ms_weight == 0.0


def test_layers_later_wins_and_recipe_yaml_applies(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"recipe": "vanilla", "steps": 50, "lr_d": 1e-3}))
    cfg = load_config(path, {"lr-d": "5e-4"})
    assert cfg.steps == 50 and cfg.lr_d == 5e-4
    assert cfg.g_width == 256  # from configs/vanilla.yaml, which only states what differs
    assert load_config(path, {"g_width": 32}).g_width == 32  # the user beats the recipe file


@pytest.mark.parametrize("key,value,fragment", [
    ("stepz", 3, "Did you mean 'steps'"),
    ("steps", "ten", "must be of type int"),
    ("steps", 0, "between 1 and"),
    ("lr_g", -1, "learning rate"),
    ("lr_g", "nan", "finite"),
    ("batch_size", 10**9, "between 1 and"),
    ("image_size", 100000, "between 4 and"),
    ("precision", "fp8", "choose one of"),
    ("deterministic", "maybe", "must be of type bool"),
    ("ema_decay", 1.0, "in [0, 1)"),
    ("steps", 2.5, "must be of type int"),
    ("ms_weight", -1.0, "must not be negative"),
])
def test_bad_values_name_the_key(key, value, fragment):
    with pytest.raises(GanforgeError, match=key if "Did you" not in fragment else "stepz") as info:
        make_config({key: value})
    assert fragment in str(info.value)


def test_bad_yaml_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: [1, 2\n")
    with pytest.raises(GanforgeError, match="not valid YAML"):
        load_config(path)
    path.write_text("- a list\n")
    with pytest.raises(GanforgeError, match="mapping"):
        load_config(path)
    with pytest.raises(GanforgeError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_round_trip_through_yaml():
    cfg = make_config({"steps": 7, "options": {"depth": 4}, "spectral_norm": "true"})
    assert make_config(yaml.safe_load(cfg.to_yaml())) == cfg
    assert isinstance(cfg, Config) and cfg.spectral_norm is True


def test_small_data_pins_fp32_and_other_data_follow_auto():
    """The default job (digits) and the 2-D toys gain nothing from bf16 and the toys lose resolution
    (configs/data/*.yaml say why), so they pin fp32; other data keep the ``auto`` default; a flag wins."""
    assert make_config({}).precision == "fp32"
    assert make_config({"data": "toy-ring"}).precision == make_config({"data": "toy-grid"}).precision == "fp32"
    assert make_config({"data": "fashion-mnist"}).precision == "auto"
    assert make_config({"data": "toy-ring", "precision": "auto"}).precision == "auto"

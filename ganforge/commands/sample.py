"""Draw samples from a trained generator (a run folder or a checkpoint file).

The output's form follows --out: NAME.png (a grid), NAME.npz (arrays x, y in the data's own
form), NAME.csv (tables), NAME.gif (the images as animation frames), NAME.txt (token sequences: one
decoded sentence per line), or a folder (one PNG per image).

Image-input recipes (translation) take --input DIR: every image there is translated, and --out is
a folder (one PNG per input, same names) or a .png grid. Knobs (--truncation, --domain, --code,
--prompt, --mix, --mix-layers, --interpolate) go to recipes that take them; a recipe that does not
is a clear error. --interpolate SEED_A,SEED_B --frames N: N samples along a path from seed A to
seed B (style-based recipes: linear in w), e.g. as a GIF.

examples:
  ganforge sample runs/dcgan-digits -n 64 --out grid.png
  ganforge sample runs/cgan-mnist --class 3 -n 100 --out threes/
  ganforge sample runs/tab -n 10000 --out synth.csv
  ganforge sample runs/pix2pix --input photos/ --out translated/
  ganforge sample runs/stylegan2 --interpolate 1,2 --frames 24 --out walk.gif
  ganforge sample runs/infogan-mnist --code cat=3,c1=0.5 -n 16 --out threes.png
  ganforge sample runs/infogan-mnist --traverse c1 -n 100 --out c1.png
  ganforge sample runs/mle-lm-text -n 100 --temperature 0.8 --out samples.txt
  ganforge sample runs/inpaint --input photos/ --mask holes/ --out filled/
  ganforge sample runs/pix2pixhd --input labels/ --instances instances/ --out images/
  ganforge sample runs/spade-vae --input maps/ --style reference.png --out styled/
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.commands.common import check_device, check_seed
from ganforge.errors import GanforgeError
from ganforge.utils.files import atomic_write, check_output_file, ensure_writable_dir

HELP = "sample a trained generator to a PNG grid, a folder of PNGs, .npz or .csv"
MAX_SAMPLES = 10_000_000
OUTPUT_TYPES = (".png", ".npz", ".csv", ".gif", ".txt", ".wav", "")  # .wav: audio runs


def add_arguments(p):
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples [default: 64]")
    p.add_argument("--seed", type=int, default=0, help="sampling seed [default: 0]")
    p.add_argument("--class", dest="label", type=int, default=None, help="class to generate (conditional recipes)")
    p.add_argument("--out", default="samples.png", help="output: .png grid, .npz, .csv, or a folder [default: samples.png]")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="cpu")
    p.add_argument("--watermark", metavar="KEY", default=None,
                   help="embed an invisible watermark keyed by KEY (or env:NAME) in every image (docs/PROVENANCE.md); "
                        "check it with `ganforge watermark verify`")
    knobs = p.add_argument_group("inputs and knobs (recipes that take them)")
    knobs.add_argument("--input", metavar="DIR", help="translate every image in DIR (image-input recipes)")
    knobs.add_argument("--mask", metavar="DIR", help="inpainting: a mask PNG per --input image, same name (white = hole; "
                       "default: random masks from --seed)")
    knobs.add_argument("--instances", metavar="DIR", help="label maps -> images (pix2pixhd trained with instance "
                       "maps): an instance-id PNG per --input label map, same name")
    knobs.add_argument("--style", metavar="IMAGE_OR_DIR", help="SPADE with use_vae / pix2pixhd with feat_num: the style "
                       "of one image for every --input map, or a folder of one style image per map, same name "
                       "(default: random styles / feature centres from --seed)")
    knobs.add_argument("--truncation", type=float, default=None, metavar="PSI", help="truncation psi (style-based recipes)")
    knobs.add_argument("--domain", default=None, help="target domain name (multi-domain recipes)")
    knobs.add_argument("--code", default=None, metavar="K=V,...", help="latent codes, e.g. cat=3,c1=0.5 (InfoGAN)")
    knobs.add_argument("--traverse", default=None, metavar="CODE", help="a .png traversal grid of one latent code "
                       "(InfoGAN: cat, c1, ...): one column per value, -n images in all")
    knobs.add_argument("--prompt", default=None, help="text prompt (text-to-image recipes)")
    knobs.add_argument("--mix", default=None, metavar="SEED_A,SEED_B", help="style mixing of two seeds (style-based)")
    knobs.add_argument("--mix-layers", default=None, metavar="L-M", help="with --mix: the w layers taken from "
                       "SEED_B, e.g. 4-9 or 4- (style-based; default: the fine half)")
    knobs.add_argument("--interpolate", default=None, metavar="SEED_A,SEED_B",
                       help="samples along a latent path from SEED_A to SEED_B (style-based)")
    knobs.add_argument("--frames", type=int, default=None, help="with --interpolate: number of frames [default: 24]")
    knobs.add_argument("--temperature", type=float, default=None, metavar="T",
                       help="softmax temperature (sequence recipes: below 1, likelier and less diverse)")


def parse_codes(text: str | None) -> dict | None:
    if text is None:
        return None
    codes = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            codes[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise GanforgeError(f"--code {text!r} is not a list of NAME=NUMBER pairs; e.g. --code cat=3,c1=0.5.")
    return codes


def parse_mix(text: str | None, flag: str = "--mix") -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        a, b = (int(v) for v in text.split(","))
    except ValueError:
        raise GanforgeError(f"{flag} {text!r} must be two seeds, e.g. {flag} 3,7.") from None
    return a, b


def knobs_of(args) -> dict:
    return {"truncation": args.truncation, "domain": args.domain, "codes": parse_codes(args.code),
            "prompt": args.prompt, "mix": parse_mix(args.mix), "mix_layers": args.mix_layers,
            "interpolate": parse_mix(args.interpolate, "--interpolate"), "temperature": args.temperature}


def marked(images, key: str | None):
    """uint8 images (n, c, h, w), watermarked with ``key`` when one is given."""
    if key is None:
        return images
    import torch

    from ganforge.provenance.watermark import embed

    return torch.from_numpy(embed(images.numpy(), key))


def translate_folder(gen, args) -> int:
    """--input DIR: each image, resized to the model's size, through the recipe; PNGs keep the input names."""
    import torch

    from ganforge.data.image_folder import decode, list_images
    from ganforge.utils.images import save_grid, save_png

    folder = Path(args.input)
    if not folder.is_dir():
        raise GanforgeError(f"--input {folder} is not a folder; pass a folder of images to translate.")
    files = list_images(folder)
    if not files:
        raise GanforgeError(f"--input {folder} holds no images (PNG, JPEG, ...); put the images to translate there.")
    masks = None
    if args.mask is not None:
        from ganforge.data.masks import read_masks

        masks = read_masks(args.mask, [f.stem for f in files], gen.dataset.shape[-1])
    instances = None
    if args.instances is not None:
        from ganforge.data.label_maps import read_instance_maps

        instances = read_instance_maps(args.instances, [f.stem for f in files], gen.dataset.shape[-1])
    style = None if args.style is None else read_styles(gen, Path(args.style), files)
    knobs = gen.recipe.check_knobs({"inputs": True, "masks": masks, "instances": instances, "style": style,
                                     **knobs_of(args)})
    knobs.pop("inputs")
    channels, size = gen.dataset.shape[0], gen.dataset.shape[-1]
    if hasattr(gen.recipe, "input_shape"):  # translation recipes: the input's size (super-resolution: smaller)
        channels, size = gen.recipe.input_shape()[0], gen.recipe.input_shape()[-1]
    data = gen.dataset
    if hasattr(gen.recipe, "read_inputs"):  # label maps (SPADE): class ids read exactly, not pixels
        inputs = None
        out_x = gen.translate(gen.recipe.read_inputs(files), seed=args.seed, **knobs)
    else:
        inputs = torch.stack([torch.from_numpy(decode(f, size, channels)) for f in files])
        out_x = gen.translate(data.to_model(inputs, "image"), seed=args.seed, **knobs)
    images = marked(data.from_model(out_x, "image"), args.watermark)
    out = Path(args.out)
    if out.suffix.lower() == ".png":
        save_grid(torch.cat([inputs, images]) if inputs is not None and inputs.shape == images.shape else images, out,
                  nrow=args.nrow or len(files))
    elif out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        for f, image in zip(files, images):
            save_png(image, out / f"{f.stem}.png")
    else:
        raise GanforgeError(f"--out {out} must be a folder or a .png grid when translating --input.")
    print(f"translated {len(files)} images to {out}")
    return 0


def read_styles(gen, path: Path, files):
    """--style: one image (every map takes its style) or a folder with an image per --input file (same stem),
    resized to the model's size, in model space."""
    import torch

    from ganforge.data.image_folder import decode, list_images

    if path.is_dir():
        styles = {f.stem: f for f in list_images(path)}
        missing = [f.name for f in files if f.stem not in styles]
        if missing:
            raise GanforgeError(f"--style {path} has no image named like {missing[0]} (and {len(missing) - 1} more); "
                                f"give one style image per --input file, same name, or one image file.")
        chosen = [styles[f.stem] for f in files]
    elif path.is_file():
        chosen = [path]
    else:
        raise GanforgeError(f"--style {path} does not exist; give an image file or a folder of images.")
    channels, size = gen.dataset.shape[0], gen.dataset.shape[-1]
    images = torch.stack([torch.from_numpy(decode(f, size, channels)) for f in chosen])
    return gen.dataset.to_model(images, "image")


def traversal_grid(gen, args) -> int:
    """--traverse CODE: rows of fixed noise, one column per value of the code (InfoGAN's figures)."""
    from ganforge.utils.images import save_grid

    if Path(args.out).suffix.lower() != ".png":
        raise GanforgeError(f"--traverse draws a grid; use --out NAME.png (not {args.out}).")
    grid = gen.traversal(args.traverse, images=args.num, seed=args.seed)
    save_grid(gen.dataset.from_model(grid.x), Path(args.out), nrow=grid.extra["nrow"])
    print(f"wrote the traversal of {args.traverse} ({len(grid.x) // grid.extra['nrow']} rows x "
          f"{grid.extra['nrow']} values) to {args.out}")
    return 0


def run(args) -> int:
    import ganforge

    if not 1 <= args.num <= MAX_SAMPLES:
        raise GanforgeError(f"-n must be between 1 and {MAX_SAMPLES}, got {args.num}.")
    if args.nrow is not None and args.nrow < 1:
        raise GanforgeError(f"--nrow must be at least 1, got {args.nrow}.")
    check_seed(args.seed)
    if args.frames is not None:
        if args.interpolate is None:
            raise GanforgeError("--frames goes with --interpolate SEED_A,SEED_B.")
        if not 2 <= args.frames <= 10_000:
            raise GanforgeError(f"--frames must be between 2 and 10000, got {args.frames}.")
    if args.interpolate is not None:
        args.num = args.frames or 24
    args.device = check_device(args.device)
    # The output is checked before loading or sampling anything: its type, and that it can be written.
    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_TYPES:
        raise GanforgeError(f"unknown output type {out.suffix!r}; use .png, .npz, .csv, .gif, .txt, .wav or a folder name.")
    if out.suffix:
        check_output_file(out, "--out file")
    else:
        ensure_writable_dir(out, "--out folder")
    key = None
    if args.watermark is not None:
        from ganforge.provenance.files import resolve_key

        key = resolve_key(args.watermark)
        if out.suffix.lower() == ".csv":
            raise GanforgeError("--watermark marks images; drop it for .csv output.")
    if args.mask is not None and args.input is None:
        raise GanforgeError("--mask goes with --input DIR: the images whose holes the masks mark.")
    if args.instances is not None and args.input is None:
        raise GanforgeError("--instances goes with --input DIR: the label maps whose instances they mark.")
    if args.style is not None and args.input is None:
        raise GanforgeError("--style goes with --input DIR: the label maps to draw in that style.")
    gen = ganforge.load(args.run, device=args.device)
    if key is not None and gen.dataset.kind != "image":
        raise GanforgeError("--watermark marks images; this run generates vectors, drop --watermark.")
    args.watermark = key
    if args.input is not None:
        return translate_folder(gen, args)
    if args.traverse is not None:
        return traversal_grid(gen, args)
    knobs = knobs_of(args)
    if gen.dataset.kind == "audio" and out.suffix.lower() != ".npz":  # WAVs + spectrograms (ganforge.audio_sampling)
        from ganforge.audio_sampling import write_audio

        return write_audio(gen, args, knobs)
    if Path(args.out).suffix.lower() == ".csv" and hasattr(gen.recipe, "sample_frame"):
        # tables (tabular-gan): rows distributed like the data, decoded to the original columns and dtypes
        table = gen.recipe.sample_frame(args.num, seed=args.seed, label=args.label)
        atomic_write(Path(args.out), lambda tmp: table.to_csv(tmp, index=False))
        print(f"wrote {args.num} rows to {args.out}")
        return 0
    x, y = gen.sample_with_labels(args.num, seed=args.seed, labels=args.label, **knobs)
    data = gen.dataset
    decoded = lambda: marked(data.from_model(x), key)  # noqa: E731  (tables decode otherwise)
    suffix = out.suffix.lower()
    if suffix == ".txt":
        from ganforge.data.text import write_sentences

        write_sentences(data, x, out)
        print(f"wrote {args.num} sentences to {out}")
        return 0
    if suffix == ".csv":
        table = data.decode(x, y) if hasattr(data, "transform") else data.decode(x)  # tables decode their labels
        if not hasattr(table, "to_csv"):
            raise GanforgeError("--out .csv is for tabular runs; use .png, .npz or a folder for this run.")
        if y is not None and getattr(data, "target", None) and data.target not in table:
            table[data.target] = y.numpy()
        atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
    elif suffix == ".npz":
        arrays = {"x": decoded().numpy()}
        if y is not None:
            arrays["y"] = y.numpy()
        atomic_write(out, lambda tmp: np.savez_compressed(open(tmp, "wb"), **arrays))
    elif suffix == ".gif":
        if data.kind != "image":
            raise GanforgeError("this run generates vectors, not images; use --out NAME.npz or NAME.csv.")
        from ganforge.utils.images import save_gif

        save_gif(data.from_model(x), out)
    elif suffix == ".png":
        if data.kind != "image":
            raise GanforgeError("this run generates vectors, not images; use --out NAME.npz or NAME.csv.")
        from ganforge.utils.images import save_grid

        save_grid(decoded(), out, nrow=min(args.nrow, args.num) if args.nrow else None)
    elif suffix == "":
        if data.kind != "image":
            raise GanforgeError("this run generates vectors, not images; use --out NAME.npz or NAME.csv.")
        from ganforge.utils.images import save_png

        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(decoded()):
            save_png(image, out / f"{i:06d}.png")
    else:
        raise GanforgeError(f"unknown output type {out.suffix!r}; use .png, .npz, .csv, .gif, .txt, .wav or a folder name.")
    print(f"wrote {args.num} samples to {out}")
    return 0

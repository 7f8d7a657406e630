"""Export a trained generator for use outside ganforge.

Formats:
  onnx         the sampling network with its EMA weights, dynamic batch size and named inputs:
               z (N, z_dim) float32 ~ N(0, I) [+ labels (N,) int64] for noise/class recipes,
               image (N, C, H, W) float32 in [-1, 1] for image-input recipes; output x in [-1, 1].
               Checked against PyTorch with onnxruntime before it is kept (needs ganforge[export]).
  torchscript  the same graph, traced (torch.jit); for C++/libtorch.
  hub          a folder: config.json + model.safetensors + README.md model card (+ samples.png),
               the layout of the Hugging Face Hub mixins; `ganforge.load(DIR)` reads it offline.

A FILE.json beside an ONNX/TorchScript file records the inputs, how z is drawn and how to decode the
output. Recipes whose sampling is not one network call (tabular-gan) cannot be exported as a graph:
the error says why; use --format hub or `ganforge serve`.

examples:
  ganforge export runs/dcgan-digits --format onnx --out dcgan.onnx
  ganforge export runs/cgan --format torchscript --out cgan.pt
  ganforge export runs/dcgan-digits --format hub --out dcgan-digits/
"""
from __future__ import annotations

HELP = "export a trained generator: ONNX, TorchScript, or a Hub-style model folder"


def add_arguments(p):
    from ganforge.deploy.export import FORMATS

    p.add_argument("run", metavar="RUN", help="a run folder, a checkpoint step-*.json, or a hub folder")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="what to write [default: onnx]")
    p.add_argument("--out", required=True, help="output file (.onnx, .pt) or, for --format hub, a new folder")


def run(args) -> int:
    from ganforge.deploy.export import export

    out = export(args.run, format=args.format, out=args.out)
    print(f"wrote {args.format} export of {args.run} to {out}")
    return 0

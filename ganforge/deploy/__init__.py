"""Deployment: export (ONNX, TorchScript, Hub folders), the sampling server and its explorer page.

    ganforge.export("runs/dcgan", format="onnx", out="g.onnx")
    ganforge serve runs/dcgan --port 8000          # HTTP API + explorer at /

See docs/DEPLOYMENT.md. The server needs the ``serve`` extra (FastAPI, uvicorn), ONNX export the
``export`` extra (onnx, onnxruntime); nothing here is imported by training.
"""
from ganforge.deploy.export import FORMATS, export  # noqa: F401

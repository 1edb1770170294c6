"""Names every exported graph shares: tensor names, the ONNX opset, the precisions a build takes.

Per-family loading lives in the engine (`filmline.engine.backends.families`); tolerances in `configs/`.
"""

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "embeddings"
PRECISIONS = ("fp32", "fp16")  # what engine-build --precision builds (PyTorch also runs bf16)
OPSET = 18  # >= 17 gives a single LayerNormalization op; 18 is the dynamo exporter's native opset

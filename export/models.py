"""Names every exported graph shares: its input and output tensor names and the ONNX opset.

Per-family loading lives in the engine (`filmline.engine.backends.families`); tolerances in `configs/`.
"""

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "embeddings"
OPSET = 18  # >= 17 gives a single LayerNormalization op; 18 is the dynamo exporter's native opset

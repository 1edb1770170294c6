"""The vision-language stage: action labels, captions and trigger descriptions from LLaVA-family
models behind one interface (`engine.vlm.base`).

`open_backend` picks a backend by name and imports it only then (torch and transformers, or the
HTTP client, or TensorRT-LLM), so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from filmline.engine.errors import BadInputError

if TYPE_CHECKING:
    from filmline.engine.vlm.base import VlmBackend
    from filmline.engine.vlm.config import VlmConfig
    from filmline.engine.vlm.options import VlmOptions


def open_backend(options: "VlmOptions", config: "VlmConfig") -> "VlmBackend":
    """The backend `options.backend` names, with the run's limits (flags over configs/vlm.yaml).

    A model that cannot be found (or a server that does not answer) raises `MissingModelError`
    from the backend, before any video is decoded.
    """
    batch_size = options.batch_size or config.batch_size
    if options.backend == "transformers":
        from filmline.engine.vlm.transformers_backend import TransformersVlm

        return TransformersVlm.open(options.model, batch_size=batch_size)
    if options.backend == "trtllm":
        from filmline.engine.vlm.trtllm_backend import TrtLlmVlm

        return TrtLlmVlm.open(options.model, batch_size=batch_size)
    if options.backend == "openai":
        from filmline.engine.vlm.openai_backend import OpenAIVlm, check_candidates

        try:  # the server scores a category by its first token only
            check_candidates(list(config.categories))
        except ValueError as err:
            raise BadInputError(f"{config.source}: {err}") from None
        backend = OpenAIVlm(options.url, options.model, concurrency=options.concurrency or config.concurrency,
                            timeout_s=config.timeout_s, max_retries=config.max_retries)
        backend.check_server()
        return backend
    raise BadInputError(f"unknown VLM backend {options.backend!r}: choose transformers, openai or trtllm")

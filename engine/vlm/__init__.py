"""The vision-language stage: action labels, captions and trigger descriptions from LLaVA-family
models behind one interface (`engine.vlm.base`).

`open_backend` picks a backend by name (`engine.registry`) and imports it only then (torch and transformers, or the
HTTP client, or TensorRT-LLM), so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from filmline.engine import registry
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
    backend_class = registry.lookup("vlm", options.backend)
    if options.backend != "openai":
        return backend_class.open(options.model, batch_size=options.batch_size or config.batch_size)
    from filmline.engine.vlm.openai_backend import check_candidates

    try:  # the server scores a category by its first token only
        check_candidates(list(config.categories))
    except ValueError as err:
        raise BadInputError(f"{config.source}: {err}") from None
    backend = backend_class(options.url, options.model, concurrency=options.concurrency or config.concurrency,
                            timeout_s=config.timeout_s, max_retries=config.max_retries)
    backend.check_server()
    return backend

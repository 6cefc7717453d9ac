"""Images for the llamacpp engine (runs inside the worker): the vision projector (llama.cpp's
mtmd), loaded with the visual budget as its image token limits, and a prompt's images
evaluated into the KV cache before generation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bakeoff.models.packaged import file_sha256


class VisionMixin:
    """The engine's vision half; it expects ``llm`` (a loaded Llama) and ``_log`` (its log capture)."""

    def _load_projector(self, o: dict[str, Any]):
        """llama.cpp's multimodal context (mtmd) for the projector, with the visual budget as its
        image token limits (both: mtmd then resizes every image to the budget, as Gemma 4's own
        processor does)."""
        import llama_cpp
        import llama_cpp.mtmd_cpp as M

        M.mtmd_log_set(self._log._callback, None)  # into the captured log, not the worker's stderr
        params = M.mtmd_context_params_default()
        params.use_gpu = o["gpu_layers"] != 0
        params.print_timings = False
        params.n_threads = o["threads"]
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if o["flash_attn"]
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        if o.get("visual_budget"):
            params.image_min_tokens = params.image_max_tokens = o["visual_budget"]
        ctx = M.mtmd_init_from_file(o["mmproj"].encode(), self.llm.model, params)
        if not ctx:
            why = [line.strip() for line in self._log.lines if "error" in line.lower() or "failed" in line.lower()]
            raise ValueError(f"llama.cpp could not load the projector {o['mmproj']}"
                             + (f": {why[-1]}" if why else ""))
        if not M.mtmd_support_vision(ctx):
            M.mtmd_free(ctx)
            raise ValueError(f"{o['mmproj']} is not a vision projector")
        self._log.take()
        return ctx

    def _vision_facts(self, o: dict[str, Any]) -> dict[str, Any]:
        facts = dict(o.get("mmproj_facts") or {"mmproj": o["mmproj"]})
        facts["visual_budget"] = o.get("visual_budget")
        facts["budget_setting"] = ("llama.cpp image_min_tokens = image_max_tokens = visual_budget"
                                   if o.get("visual_budget") else "the projector's default image token limits")
        facts["mmproj_sha256"] = file_sha256(Path(o["mmproj"]).expanduser())
        return facts

    def _prefill_images(self, prompt: str, add_bos: bool, images: list[dict[str, Any]]) -> tuple[list[int], dict]:
        """Tokenize the prompt with its images (mtmd splits it at the media markers) and evaluate
        it into the KV cache: text chunks as tokens, image chunks encoded by the projector and
        decoded as embeddings. Returns the prompt's token list (image positions included) for
        the generation loop, which finds it all cached, and the image figures."""
        import ctypes

        import llama_cpp as C
        import llama_cpp.mtmd_cpp as M

        llm, ctx = self.llm, self._mtmd
        bitmaps = []
        chunks = M.mtmd_input_chunks_init()
        figures = {"image_tokens": 0, "image_encode_ms": 0.0, "image_decode_ms": 0.0}
        try:
            for image in images:
                data = Path(image["path"]).read_bytes()
                bitmap = M.mtmd_helper_bitmap_init_from_buf(
                    ctx, (ctypes.c_uint8 * len(data)).from_buffer(bytearray(data)), len(data), False)
                if not bitmap:
                    raise ValueError(f"llama.cpp could not decode the image {image.get('as_written', image['path'])}")
                bitmaps.append(bitmap)
            text = M.mtmd_input_text()
            raw = prompt.encode("utf-8")
            text.text, text.text_len, text.add_special, text.parse_special = raw, len(raw), add_bos, True
            array = (M.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            if M.mtmd_tokenize(ctx, chunks, ctypes.byref(text), array, len(bitmaps)) != 0:
                raise ValueError("llama.cpp could not tokenize the prompt with its images (markers and images differ?)")
            n_chunks = M.mtmd_input_chunks_size(chunks)
            total = sum(M.mtmd_input_chunk_get_n_tokens(M.mtmd_input_chunks_get(chunks, i)) for i in range(n_chunks))
            n_ctx = min(llm.n_ctx(), len(llm.input_ids))
            if total >= n_ctx:
                raise ValueError(f"the prompt has {total} tokens with its images; the context holds {n_ctx} "
                                 "(raise ?ctx= or lower visual_budget=)")
            for i in range(n_chunks):
                chunk = M.mtmd_input_chunks_get(chunks, i)
                if M.mtmd_input_chunk_get_type(chunk) == M.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    n = ctypes.c_size_t()
                    ptr = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                    if n.value:
                        llm.eval([ptr[j] for j in range(n.value)])
                        # llama.cpp books a decode's time in its counters only at a synchronize;
                        # without one the projector's encode below would count as prompt time.
                        C.llama_synchronize(llm._ctx.ctx)
                    continue
                t0 = time.perf_counter()
                if M.mtmd_encode_chunk(ctx, chunk) != 0:
                    raise ValueError("the projector failed to encode an image")
                t1 = time.perf_counter()
                new_n_past = C.llama_pos(0)
                if M.mtmd_helper_decode_image_chunk(ctx, llm._ctx.ctx, chunk, M.mtmd_get_output_embd(ctx),
                                                    llm.n_tokens, 0, llm.n_batch, ctypes.byref(new_n_past),
                                                    M.mtmd_helper_post_decode_callback(), None) != 0:
                    raise ValueError("llama.cpp failed to decode an image's embeddings")
                C.llama_synchronize(llm._ctx.ctx)
                t2 = time.perf_counter()
                figures["image_tokens"] += M.mtmd_input_chunk_get_n_tokens(chunk)
                figures["image_encode_ms"] += (t1 - t0) * 1000
                figures["image_decode_ms"] += (t2 - t1) * 1000
                llm.n_tokens = new_n_past.value
            return llm.input_ids[: llm.n_tokens].tolist(), figures
        finally:
            M.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                M.mtmd_bitmap_free(bitmap)

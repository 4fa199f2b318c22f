"""FIM prompt templates: how each model family marks prefix, suffix and middle.

Every family that was trained to fill in the middle has its own special tokens and layout. The
completer builds prompts at the token level (`PromptFormat.prompt`, with the ids of the
family's tokens in the model's own vocabulary); servers that take text get the same layout as
text (`FimTemplate.render`). Models with no FIM tokens get the prefix alone ("prefix-only").

The tokens, as each family documents them:

    forecode           <|fim_prefix|> <|fim_suffix|> <|fim_middle|>, <|file_sep|>; SPM by default
    StarCoder/2        <fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>, <file_sep> (StarCoder2)
    DeepSeek-Coder     <｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>
    Qwen2.5-Coder      <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>, <|file_sep|>, <|repo_name|>
    CodeLlama          <PRE> {prefix} <SUF>{suffix} <MID>  (SentencePiece pieces ▁<PRE> ▁<SUF> ▁<MID>, end ▁<EOT>)
    CodeGemma          <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>, <|file_separator|>

The template is chosen by name (`--fim-template starcoder`) or from the model's vocabulary and
name (`detect_template`); the token names that Qwen2.5-Coder, CodeGemma and forecode share are
told apart by the tokens around them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from forecode.errors import InputError
from forecode.tokenizer.fim import FimOrder, repo_fim_prompt
from forecode.tokenizer.special import FILE_SEP, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, SpecialTokens

Layout = Literal["psm", "spm", "prefix"]  # "prefix": no FIM, the model continues the prefix


@dataclass(frozen=True)
class FimTemplate:
    name: str
    models: str  # the model families it is for, as users know them
    prefix: str = ""  # special-token names; "" where the family has none
    suffix: str = ""
    middle: str = ""
    file_sep: str = ""  # the repository-level file separator, where the family has one
    stops: tuple[str, ...] = ()  # tokens that end a suggestion besides the end-of-text token
    layout: Layout = "psm"
    # In a text prompt: what follows the prefix token, precedes the suffix token and precedes the
    # middle token (CodeLlama's spaces, which its SentencePiece pieces carry in a token prompt).
    text_glue: tuple[str, str, str] = ("", "", "")

    @property
    def fim(self) -> bool:
        return self.layout != "prefix"

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt as text, for servers that tokenize it themselves (they must parse special
        tokens in the prompt: vLLM, llama-server and llama-cpp-python's server do)."""
        a, b, c = self.text_glue
        p, s, m = (t.removeprefix("▁") for t in (self.prefix, self.suffix, self.middle))  # SentencePiece's space mark
        if self.layout == "prefix":
            return prefix
        if self.layout == "spm":
            return f"{p}{a}{b}{s}{suffix}{c}{m}{prefix}"
        return f"{p}{a}{prefix}{b}{s}{suffix}{c}{m}"

    def with_layout(self, layout: Layout) -> FimTemplate:
        if layout != "prefix" and not (self.prefix and self.suffix and self.middle):
            raise InputError(f"template {self.name!r} has no FIM tokens; it can only continue the prefix")
        return replace(self, layout=layout)


TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        FimTemplate("forecode", "forecode's own models", FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FILE_SEP,
                    layout="spm"),
        FimTemplate("starcoder", "StarCoder, StarCoderBase, StarCoder2, SantaCoder", "<fim_prefix>", "<fim_suffix>",
                    "<fim_middle>", "<file_sep>", stops=("<file_sep>", "<fim_pad>")),
        FimTemplate("deepseek", "DeepSeek-Coder (1.3b to 33b, base)", "<｜fim▁begin｜>", "<｜fim▁hole｜>",
                    "<｜fim▁end｜>", stops=("<｜end▁of▁sentence｜>", "<|EOT|>")),
        FimTemplate("qwen", "Qwen2.5-Coder, Qwen3-Coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
                    "<|file_sep|>", stops=("<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|repo_name|>")),
        FimTemplate("codellama", "Code Llama (7b to 70b, base and Python)", "▁<PRE>", "▁<SUF>", "▁<MID>",
                    stops=("▁<EOT>", "</s>"), text_glue=(" ", " ", " ")),
        FimTemplate("codegemma", "CodeGemma (2b, 7b)", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
                    "<|file_separator|>", stops=("<|file_separator|>", "<eos>", "<end_of_turn>")),
        FimTemplate("prefix-only", "any causal LM without FIM tokens (SmolLM2, GPT-2, ...)", layout="prefix"),
    )
}

# The token that gives each family away, tried in this order: the shared <|fim_prefix|> names of
# forecode, Qwen and CodeGemma are told apart by their neighbours.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("<|repo_name|>", "qwen"),
    ("<|im_start|>", "qwen"),
    ("<|file_separator|>", "codegemma"),
    ("<fim_prefix>", "starcoder"),
    ("<｜fim▁begin｜>", "deepseek"),
    ("▁<PRE>", "codellama"),
    (FILE_SEP, "forecode"),
)

# Words in a model's name that pick a family when the vocabulary alone does not.
_NAME_HINTS: tuple[tuple[str, str], ...] = (
    ("starcoder", "starcoder"), ("santacoder", "starcoder"), ("deepseek", "deepseek"), ("qwen", "qwen"),
    ("codellama", "codellama"), ("code-llama", "codellama"), ("codegemma", "codegemma"), ("forecode", "forecode"),
)


def template_by_name(name: str) -> FimTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise InputError(f"unknown FIM template {name!r}; choose one of {', '.join(TEMPLATES)} or 'auto'") from None


def template_for_model_name(model_name: str) -> FimTemplate | None:
    """The family a model's name (a server's model id, a file name) points to, if any."""
    lowered = model_name.lower()
    return next((TEMPLATES[name] for word, name in _NAME_HINTS if word in lowered), None)


def detect_template(vocabulary: Collection[str], model_name: str = "") -> FimTemplate:
    """The family whose special tokens `vocabulary` (token strings) holds; the model's name
    breaks ties. A vocabulary with no FIM tokens gets the prefix-only template."""
    has = set(vocabulary)
    for marker, name in _MARKERS:
        if marker in has and all(t in has for t in (TEMPLATES[name].prefix, TEMPLATES[name].suffix)):
            return TEMPLATES[name]
    lowered = model_name.lower()
    for word, name in _NAME_HINTS:
        t = TEMPLATES[name]
        if word in lowered and t.prefix in has and t.suffix in has and t.middle in has:
            return t
    for t in TEMPLATES.values():  # FIM tokens with no telling neighbour: the first family that has them all
        if t.fim and t.prefix in has and t.suffix in has and t.middle in has:
            return t
    return TEMPLATES["prefix-only"]


@dataclass(frozen=True)
class PromptFormat:
    """A template resolved against one vocabulary: the ids the completer lays out."""

    template: FimTemplate
    special: SpecialTokens  # eot is the model's end-of-text; ids a family lacks are -1
    stop_ids: frozenset[int]

    @property
    def layout(self) -> Layout:
        return self.template.layout

    @property
    def repository_level(self) -> bool:
        """Whether the family has a file separator, so that other files can go in the prompt."""
        return self.special.file_sep >= 0 and self.layout != "prefix"

    @classmethod
    def forecode(cls, special: SpecialTokens, order: FimOrder) -> PromptFormat:
        return cls(TEMPLATES["forecode"].with_layout(order), special, special.all())

    def prompt(self, files: Sequence[list[int]], header: list[int], prefix: list[int], suffix: list[int]) -> list[int]:
        """The prompt for a cursor: context files (each the ids of a `file_text`), the current
        file's header, then prefix and suffix in the family's layout. Families without a file
        separator get no context files, and prefix-only models the prefix alone."""
        if self.layout == "prefix":
            return list(prefix)
        files = files if self.repository_level else []
        return repo_fim_prompt(files, header, prefix, suffix, self.special, self.layout)


def resolve(template: FimTemplate, token_id: Callable[[str], int | None], eot: int,
            extra_stops: Collection[int] = ()) -> PromptFormat:
    """`template` with the ids of its tokens in a vocabulary (`token_id` maps a token string to
    its id or None); `eot` is the model's end-of-text id. A FIM template whose tokens the
    vocabulary lacks is an error that names them."""
    def need(name: str) -> int:
        i = token_id(name)
        if i is None:
            raise InputError(f"the model's vocabulary has no {name!r}, which the {template.name!r} FIM template needs; "
                             "choose another template with --fim-template (or 'prefix-only')")
        return i

    if template.fim:
        fim = (need(template.prefix), need(template.suffix), need(template.middle))
    else:
        fim = (-1, -1, -1)
    sep = token_id(template.file_sep) if template.file_sep else None
    special = SpecialTokens(eot, *fim, sep if sep is not None else -1)
    stops = {eot, *extra_stops, *(i for i in (token_id(t) for t in template.stops) if i is not None)}
    if template.fim:
        stops |= set(fim)
    if sep is not None:
        stops.add(sep)
    return PromptFormat(template, special, frozenset(stops))

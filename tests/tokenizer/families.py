"""Small tokenizers that hold each model family's documented special tokens."""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# Each family's FIM tokens and prompt, as its model card or paper writes them.
DOCUMENTED = {
    "starcoder": (["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                   "<gh_stars>", "<issue_start>", "<repo_name>", "<file_sep>"],
                  "<fim_prefix>def f(x):\n    <fim_suffix>\n    return y<fim_middle>"),
    "deepseek": (["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>",
                  "<|EOT|>"],
                 "<｜fim▁begin｜>def f(x):\n    <｜fim▁hole｜>\n    return y<｜fim▁end｜>"),
    "qwen": (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
              "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
             "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>"),
    "codellama": (["<unk>", "<s>", "</s>", "▁<PRE>", "▁<MID>", "▁<SUF>", "▁<EOT>"],
                  "<PRE> def f(x):\n     <SUF>\n    return y <MID>"),
    "codegemma": (["<pad>", "<eos>", "<bos>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                   "<|file_separator|>", "<start_of_turn>", "<end_of_turn>"],
                  "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>"),
}
PREFIX, SUFFIX = "def f(x):\n    ", "\n    return y"
CODE = ["def f(x):\n    return x + 1\n", "class A:\n    pass\n", "import os\nprint(os.getcwd())\n"] * 20


def byte_level(special: list[str]) -> Tokenizer:
    """A small GPT-2-style tokenizer that holds a family's special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CODE, trainer=trainer)
    return tok

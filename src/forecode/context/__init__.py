"""What goes into the prompt: prefix and suffix windows under a token budget (window.py), and
the workspace index that retrieval draws snippets from (index.py; see docs/INDEX.md)."""

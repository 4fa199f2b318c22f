"""What goes into the prompt: prefix and suffix windows under a token budget."""

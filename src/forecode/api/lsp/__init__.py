"""The language server: `forecode lsp` (server.py), its settings, and LSP positions."""

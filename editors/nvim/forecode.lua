-- forecode in Neovim 0.11+, through the built-in LSP client.
-- Copy to ~/.config/nvim/plugin/forecode.lua (or `require` it from init.lua). `forecode` must be
-- on PATH (or give the full path to the virtualenv's bin/forecode in `cmd`).
vim.lsp.config("forecode", {
  cmd = { "forecode", "lsp" }, -- add "--model", "/path/to/checkpoint" for your own model
  filetypes = { "python", "lua", "javascript", "typescript", "go", "rust", "c", "cpp", "java", "sh" },
  root_markers = { "pyproject.toml", "setup.py", "package.json", "Cargo.toml", "go.mod", ".git" },
  -- Sent as initializationOptions; the same keys work in `settings` (workspace/didChangeConfiguration).
  init_options = {
    forecode = {
      maxTokens = 48,
      debounceMs = 75, -- inline completions wait this long for typing to pause
      postprocess = "pipeline", -- "raw": the model's text as it is; "ranked": the best of `candidates` tries
      security = "report", -- "filter": drop suggestions the security lint flags instead of logging them
      languages = { markdown = false },
    },
  },
})
vim.lsp.enable("forecode")

-- Ghost-text inline completions: Neovim 0.12 has vim.lsp.inline_completion; 0.11 does not, and
-- there forecode's suggestions come as completion items (<C-x><C-o>, or vim.lsp.completion).
if vim.lsp.inline_completion then
  vim.lsp.inline_completion.enable(true) -- accepting a suggestion: see :help vim.lsp.inline_completion
end

vim.api.nvim_create_autocmd("LspAttach", {
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if client and client.name == "forecode" then
      vim.lsp.completion.enable(true, client.id, ev.buf, { autotrigger = false })
    end
  end,
})

-- Headless Neovim session for test_lsp_neovim.py: open a Python file, start forecode through the
-- built-in client, ask for completion and inline completion at the cursor, write what came back.
-- Usage: nvim --headless --clean -l nvim_session.lua FILE LINE CHARACTER OUT FORECODE MODEL
-- (LINE and CHARACTER 0-based, as LSP counts them; the file is ASCII, so every unit agrees.)
local file, line, character, out, forecode, model = unpack(arg)
local transcript = {}

vim.cmd.edit(file)
local id = vim.lsp.start({
  name = "forecode",
  cmd = { forecode, "lsp", "--model", model, "--threads", "1" },
  root_dir = vim.fs.dirname(file),
  init_options = { forecode = { debounceMs = 0 } },
})
assert(id, "vim.lsp.start returned nothing")
local client = vim.lsp.get_client_by_id(id)
assert(vim.wait(60000, function() return client.initialized end, 50), "forecode did not initialize")
transcript.offset_encoding = client.offset_encoding
transcript.server_capabilities = {
  inline = client.server_capabilities.inlineCompletionProvider ~= nil,
  completion = client.server_capabilities.completionProvider ~= nil,
  sync = client.server_capabilities.textDocumentSync.change,
}

local function ask(method, params)
  local answer
  client:request(method, params, function(err, result)
    answer = { err = err, result = result }
  end, 0)
  assert(vim.wait(60000, function() return answer ~= nil end, 20), method .. ": no answer")
  return answer
end

-- The cursor at the end of a line in insert mode: normal mode cannot put it there, so the
-- position is given as the editor would send it while typing.
local params = {
  textDocument = vim.lsp.util.make_text_document_params(0),
  position = { line = tonumber(line), character = tonumber(character) },
}
transcript.position = params.position
transcript.completion = ask("textDocument/completion", params)
local inline_params = vim.deepcopy(params)
inline_params.context = { triggerKind = 1 } -- Invoked
transcript.inline = ask("textDocument/inlineCompletion", inline_params)
transcript.has_inline_completion_module = vim.lsp.inline_completion ~= nil

local f = assert(io.open(out, "w"))
f:write(vim.json.encode(transcript))
f:close()
client:stop()
vim.wait(5000, function() return client:is_stopped() end, 50)
vim.cmd("qa!")

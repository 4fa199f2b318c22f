-- Loads editors/nvim/forecode.lua as a user would, points its cmd at this checkout's forecode and
-- the test model, opens a Python file and lets vim.lsp.enable start the server.
-- Usage: nvim --headless --clean -l nvim_config_check.lua CONFIG FILE OUT FORECODE MODEL
local config, file, out, forecode, model = unpack(arg)
vim.cmd.luafile(config)
local shipped = vim.lsp.config.forecode
local report = {
  cmd = shipped.cmd,
  filetypes = shipped.filetypes,
  init_options = shipped.init_options,
  has_inline_completion_module = vim.lsp.inline_completion ~= nil,
}
vim.lsp.config("forecode", { cmd = { forecode, "lsp", "--model", model, "--threads", "1" } })
vim.cmd.edit(file)
report.filetype = vim.bo.filetype
report.attached = vim.wait(60000, function()
  local clients = vim.lsp.get_clients({ name = "forecode", bufnr = 0 })
  return #clients > 0 and clients[1].initialized
end, 50)
local f = assert(io.open(out, "w"))
f:write(vim.json.encode(report))
f:close()
for _, client in ipairs(vim.lsp.get_clients({ name = "forecode" })) do
  client:stop()
end
vim.wait(5000, function() return #vim.lsp.get_clients({ name = "forecode" }) == 0 end, 50)
vim.cmd("qa!")

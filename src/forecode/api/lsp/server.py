"""`forecode lsp`: the language server (pygls), an adapter around the completion service.

- `textDocument/inlineCompletion` (LSP 3.18): the line suggestion, from the cursor.
- `textDocument/completion`: the line suggestion as one item, then jedi's names at the cursor
  ranked by the model (forecode/identifiers.py); `sortText` keeps that order in the editor.
- The line suggestion is post-processed as the settings say (raw, the filters, or k candidates
  ranked); its security findings are in the item's detail and documentation, and, for both
  kinds of request (an inline completion has no other place for them), in a `window/logMessage`.
- Incremental document sync (documents.py applies the edits); positions in the code units
  agreed at `initialize` (UTF-16 unless the client offers another), converted at the edge by
  positions.py.
- Each request runs in a worker thread on a ticket from the CompletionService: a newer request of
  the same kind for the same document supersedes it, `$/cancelRequest` cancels it, and either
  stops its generation at the next token. It first waits out a debounce delay, and is dropped if
  superseded meanwhile.
- Settings (settings.py) come from the command line, `initializationOptions` and
  `workspace/didChangeConfiguration`; a new backend or model loads a new engine on next use.
- Repository context (workspace.py): the index of each workspace folder named at `initialize`
  opens in a thread of its own and follows didOpen / didChange / didSave; until it is open, and
  for documents outside the folders, completions run without it. Settings `index` and
  `contextSources` turn it off or choose its sources.
- A failure is logged (stderr and `window/logMessage`) and answered with an empty result.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from forecode import __version__
from forecode.api.lsp import positions
from forecode.api.lsp.documents import Document, Documents
from forecode.api.lsp.settings import SECTION, Settings, apply_changes
from forecode.api.lsp.suggestions import (
    Edit, completion_edit, inline_edit, is_python, line_detail, line_result, ranked_names, security_note,
)
from forecode.api.lsp.workspace import Indexes
from forecode.api.service import CompletionService, Ticket
from forecode.completer import Completer, Suggestion
from forecode.context.workspaces import Workspaces
from forecode.engine.loading import EngineSpec
from forecode.errors import Cancelled, ForecodeError, InputError
from forecode.identifiers import JediCompleter, ModelScorer

log = logging.getLogger("forecode.lsp")
T = TypeVar("T")

STATS_COMMAND = "forecode.stats"  # workspace/executeCommand: counters, for tests and curious users
DOCUMENT_COMMAND = "forecode.document"  # workspace/executeCommand: the server's copy of a document
CONTEXT_COMMAND = "forecode.context"  # workspace/executeCommand: what the index holds for a document
# A handler's answer, and the line suggestion behind it (for its findings).
InlineAnswer = tuple[types.InlineCompletionList | None, Suggestion | None]
CompletionAnswer = tuple[types.CompletionList | None, Suggestion | None]

REQUEST_TIMEOUT_S = 10.0
WORKERS = 4  # threads for requests: one generates, the others wait in the service's queue

_KIND_OF_JEDI_TYPE = {
    "module": types.CompletionItemKind.Module,
    "class": types.CompletionItemKind.Class,
    "instance": types.CompletionItemKind.Variable,
    "function": types.CompletionItemKind.Function,
    "param": types.CompletionItemKind.Variable,
    "path": types.CompletionItemKind.File,
    "keyword": types.CompletionItemKind.Keyword,
    "property": types.CompletionItemKind.Property,
    "statement": types.CompletionItemKind.Variable,
}


@dataclass(frozen=True)
class Loaded:
    key: EngineSpec
    service: CompletionService
    scorer: ModelScorer

    @property
    def engine_template(self) -> str:
        """The FIM template the loaded engine's prompts use."""
        return self.scorer.engine.prompt_format.template.name


class Engines:
    """The engine the settings name, loaded on first use and again when backend, model or
    threads change. One load at a time; requests wait for it."""

    def __init__(self, load: Callable[[Settings, Workspaces | None], Completer], workspaces: Workspaces | None) -> None:
        self._load = load
        self.workspaces = workspaces
        self._lock = threading.Lock()
        self.loaded: Loaded | None = None

    def ready(self, settings: Settings) -> Loaded | None:
        """The engine for `settings` if it is loaded already (never waits)."""
        loaded = self.loaded
        return loaded if loaded is not None and loaded.key == settings.engine_key else None

    def get(self, settings: Settings) -> Loaded:
        with self._lock:
            if self.loaded is None or self.loaded.key != settings.engine_key:
                log.info("loading the %s engine from %s", settings.backend, settings.model or "its default model")
                completer = self._load(settings, self.workspaces)
                self.loaded = Loaded(settings.engine_key, CompletionService(completer, timeout_s=REQUEST_TIMEOUT_S),
                                     ModelScorer(completer.engine))
            return self.loaded


def load_completer(settings: Settings, workspaces: Workspaces | None) -> Completer:
    return Completer(settings.engine_key.load(), workspaces)


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, without its own copy of changed documents: documents.py keeps ours.

    pygls's didChange applies each edit to its workspace before our handler sees it, and on the
    way clamps the range's positions in place by its own line count (str.splitlines, which breaks
    at form feeds and U+2028), so our handler would get ranges already bent."""

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None


class ForecodeServer(LanguageServer):
    def __init__(self, settings: Settings, load: Callable[[Settings, Workspaces | None], Completer] = load_completer,
                 workspaces: Workspaces | None = None) -> None:
        super().__init__("forecode", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=_Protocol)
        self.settings = settings
        self.indexes = Indexes(workspaces or Workspaces())
        self.engines = Engines(load, self.indexes.workspaces)
        self.last_context: dict[str, dict[str, Any]] = {}  # uri -> the debug window's context of its last line suggestion
        self.executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="forecode-lsp")
        self.documents = Documents()
        self._jedi: JediCompleter | None = None
        self.counts: dict[str, int] = {}

    def shutdown(self) -> None:
        super().shutdown()  # type: ignore[no-untyped-call]
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.indexes.close()

    # -- the boundary: every failure ends here, as a log line and an empty answer ---------------

    def tell(self, level: types.MessageType, message: str, show: bool = False) -> None:
        """Log `message` to stderr and to the editor's log (and, with `show`, its message area)."""
        log.log({types.MessageType.Error: logging.ERROR, types.MessageType.Warning: logging.WARNING}.get(level, logging.INFO), "%s", message)
        try:
            self.window_log_message(types.LogMessageParams(type=level, message=f"forecode: {message}"))
            if show:
                self.window_show_message(types.ShowMessageParams(type=level, message=f"forecode: {message}"))
        except Exception:  # no client to tell (not connected yet, or gone): stderr has it
            log.debug("could not send a message to the client", exc_info=True)

    def report_findings(self, kind: str, uri: str, position: types.Position, suggestion: Suggestion | None) -> None:
        """The line suggestion's security findings, to the editor's log. Called on the event
        loop's thread: pygls's transports are not safe to write from a worker."""
        if suggestion is None or not suggestion.findings:
            return
        verb = "has" if suggestion.text else "was dropped for"
        self.tell(types.MessageType.Warning, f"{kind} at {uri}:{position.line + 1}: the suggestion {verb} "
                  f"security findings\n{security_note(suggestion)}")

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    async def answer(self, kind: str, uri: str, delay_ms: int, work: Callable[[Loaded, Ticket], T], empty: T) -> T:
        """`work` in a worker thread on a fresh ticket for (kind, uri), after `delay_ms`; `empty`
        if it fails or is superseded. A client's $/cancelRequest cancels the ticket."""
        loop = asyncio.get_running_loop()
        ticket: Ticket | None = None
        self.count(kind)
        try:
            # With the engine loaded, the ticket is taken before any await, so requests supersede
            # each other in the order they arrived.
            loaded = self.engines.ready(self.settings)
            if loaded is None:
                loaded = await loop.run_in_executor(self.executor, self.engine, self.settings)
            ticket = loaded.service.ticket(document=f"{kind} {uri}")
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
                if ticket.cancelled():  # the user typed on: a newer request took its place
                    raise Cancelled(ticket.reason or "superseded")
            return await loop.run_in_executor(self.executor, work, loaded, ticket)
        except asyncio.CancelledError:
            if ticket is not None:
                ticket.cancel("client cancelled")
            self.count("cancelled: client cancelled")
            raise
        except Cancelled as exc:
            self.count(f"cancelled: {exc.reason}")
            log.debug("%s for %s: %s", kind, uri, exc)
        except ForecodeError as exc:
            self.count("failed")
            self.tell(types.MessageType.Warning, f"{kind} at {uri}: {exc}")
        except Exception as exc:
            self.count("failed")
            log.exception("%s at %s failed", kind, uri)
            self.tell(types.MessageType.Error, f"{kind} at {uri} failed: {type(exc).__name__}: {exc}")
        return empty

    def engine(self, settings: Settings) -> Loaded:
        """The loaded engine for `settings`; if a new one fails to load, the settings go back to
        the engine that is loaded, and the error goes to the editor."""
        try:
            return self.engines.get(settings)
        except Exception as exc:
            loaded = self.engines.loaded
            if loaded is None:
                raise ForecodeError(f"cannot load the {settings.backend} engine: {exc}") from exc
            key = loaded.key
            o = key.options
            self.settings = replace(self.settings, backend=key.backend, model=key.model, threads=o.threads,
                                    fim_template=o.template, context_length=o.context_length, model_name=o.model_name,
                                    tokenizer=o.tokenizer)
            self.tell(types.MessageType.Error, f"cannot load the {settings.backend} engine from "
                      f"{settings.model or 'its default model'} ({exc}); keeping the {key.backend} engine from "
                      f"{key.model or 'its default model'}", show=True)
            return loaded

    def jedi(self) -> JediCompleter:
        if self._jedi is None:
            self._jedi = JediCompleter()
        return self._jedi

    def change_settings(self, raw: Any, source: str) -> None:
        """Apply a settings change; a bad one is reported and changes nothing."""
        try:
            self.settings = apply_changes(self.settings, raw)
            log.info("settings from %s: %s", source, self.settings)
        except InputError as exc:
            self.tell(types.MessageType.Error, f"{source}: {exc}; the previous settings stay", show=True)
        self.start_indexing()

    def start_indexing(self) -> None:
        """Open the workspace folders' indexes (when the settings want them and they are not
        open yet), then tell them about the documents already open."""
        if self.settings.index and any(self.indexes.state(r) == "not opened" for r in self.indexes.roots):
            self.indexes.start()
            for doc in self.documents.all():
                self.indexes.changed(doc.path, doc.text)

    def line(self, loaded: Loaded, ticket: Ticket, doc: Document, cursor: int, settings: Settings) -> Suggestion | None:
        """The line suggestion at `cursor`, with repository context once the document's
        workspace index is open; its debug window's context is kept for `forecode.context`."""
        root = self.indexes.ready(doc.path) if settings.retrieval else None
        result = line_result(loaded.service, ticket, doc.text, cursor, doc.path, doc.language, settings, root)
        self.last_context[doc.uri] = result.debug.get("context", {})
        return result.suggestions[0] if result.suggestions else None

    # -- documents and positions -----------------------------------------------------------------

    @property
    def unit(self) -> positions.Unit:
        encoding = str(self.workspace.position_encoding or "utf-16")
        return "utf-8" if encoding == "utf-8" else "utf-32" if encoding == "utf-32" else "utf-16"

    def document(self, uri: str) -> Document:
        return self.documents.get(uri)

    def cursor_in(self, uri: str, position: types.Position, settings: Settings) -> tuple[Document, int] | None:
        """The open document and the cursor's code-point offset in it; None when completion is
        off for its language."""
        doc = self.document(uri)
        if not settings.enabled_for(doc.language):
            return None
        return doc, self.offset(doc.text, position)

    def offset(self, text: str, position: types.Position) -> int:
        return positions.to_offset(text, position.line, position.character, self.unit)

    def range(self, text: str, edit: Edit) -> types.Range:
        start = positions.to_position(text, edit.start, self.unit)
        end = positions.to_position(text, edit.end, self.unit)
        return types.Range(types.Position(*start), types.Position(*end))


def _label(text: str, limit: int = 60) -> str:
    first = text.split("\n", 1)[0]
    shown = first if len(first) <= limit else first[: limit - 1] + "…"
    return shown + (" …" if "\n" in text and len(shown) == len(first) else "")


def workspace_folders(params: types.InitializeParams) -> list[Path]:
    """The folders the editor opened: `workspaceFolders`, else the older `rootUri` / `rootPath`."""
    uris = [f.uri for f in params.workspace_folders or ()] or ([params.root_uri] if params.root_uri else [])
    paths = [to_fs_path(u) for u in uris if u.startswith("file:")]
    if not paths and params.root_path:
        paths = [params.root_path]
    return [Path(p) for p in paths if p]


def build_server(settings: Settings, load: Callable[[Settings, Workspaces | None], Completer] = load_completer,
                 workspaces: Workspaces | None = None) -> ForecodeServer:
    server = ForecodeServer(settings, load, workspaces)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.indexes.set_roots(workspace_folders(params))
        if params.initialization_options is not None:
            server.change_settings(params.initialization_options, "initializationOptions")
        server.start_indexing()  # in the index thread: initialize is answered at once

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        # Load the engine now, so the first completion does not wait for it.
        def warm_up() -> None:
            try:
                server.engine(server.settings)
            except Exception as exc:
                server.tell(types.MessageType.Error, str(exc), show=True)

        server.executor.submit(warm_up)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.documents.open(params.text_document)
        server.indexes.opened(server.document(params.text_document.uri).path)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        try:
            doc = server.documents.change(params.text_document.uri, params.text_document.version, params.content_changes, server.unit)
        except InputError as exc:
            server.tell(types.MessageType.Error, str(exc), show=True)
            return
        server.indexes.changed(doc.path, doc.text)  # queued for the index thread

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        server.indexes.saved(server.document(params.text_document.uri).path if params.text_document.uri else None)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.documents.close(params.text_document.uri)  # the index keeps the document's last text

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        raw = params.settings
        if raw is None and server.client_capabilities.workspace and server.client_capabilities.workspace.configuration:
            try:  # the pull model: the notification only says "ask me"
                raw = (await server.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])))[0]
            except Exception as exc:
                server.tell(types.MessageType.Warning, f"workspace/configuration failed: {exc}")
                return
        server.change_settings(raw, "workspace/didChangeConfiguration")

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        settings = server.settings
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        uri = params.text_document.uri

        def work(loaded: Loaded, ticket: Ticket) -> InlineAnswer:
            if (at := server.cursor_in(uri, params.position, settings)) is None:
                return None, None
            doc, cursor = at
            text = doc.text
            suggestion = server.line(loaded, ticket, doc, cursor, settings)
            if suggestion is None or not suggestion.text:
                return types.InlineCompletionList(items=[]), suggestion
            edit = inline_edit(text, cursor, suggestion.text)
            item = types.InlineCompletionItem(insert_text=edit.text, range=server.range(text, edit))
            return types.InlineCompletionList(items=[item]), suggestion

        none: InlineAnswer = (None, None)
        answer, suggestion = await server.answer("inline", uri, 0 if invoked else settings.debounce_ms, work, none)
        server.report_findings("inline", uri, params.position, suggestion)
        return answer

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    async def completion(params: types.CompletionParams) -> types.CompletionList | None:
        settings = server.settings
        uri = params.text_document.uri

        def work(loaded: Loaded, ticket: Ticket) -> CompletionAnswer:
            if (at := server.cursor_in(uri, params.position, settings)) is None:
                return None, None
            doc, cursor = at
            text, path = doc.text, doc.path
            items: list[types.CompletionItem] = []
            suggestion = server.line(loaded, ticket, doc, cursor, settings)
            if suggestion is not None and suggestion.text.strip():
                edit = completion_edit(text, cursor, suggestion.text)
                items.append(types.CompletionItem(
                    label=_label(edit.text), kind=types.CompletionItemKind.Text, detail=line_detail(suggestion),
                    documentation=security_note(suggestion) or None,
                    sort_text=f"{0:05d}", filter_text=edit.text, insert_text_format=types.InsertTextFormat.PlainText,
                    text_edit=types.TextEdit(range=server.range(text, edit), new_text=edit.text)))
            if is_python(doc.language, path):
                ranked = ranked_names(loaded.service, ticket, server.jedi(), loaded.scorer, text, cursor, path, settings.max_candidates)
                name_range = server.range(text, Edit(ranked.start, cursor, ""))
                for i, candidate in enumerate(ranked.names):
                    items.append(types.CompletionItem(
                        label=candidate.name, kind=_KIND_OF_JEDI_TYPE.get(candidate.kind),
                        detail=f"forecode: {candidate.kind}" + (f" (log p {ranked.scores[i]:.2f})" if i < ranked.scored else ""),
                        sort_text=f"{i + 1:05d}", filter_text=candidate.name,
                        text_edit=types.TextEdit(range=name_range, new_text=candidate.name)))
            # Incomplete: the line suggestion depends on every character typed after it.
            return types.CompletionList(is_incomplete=True, items=items), suggestion

        none: CompletionAnswer = (None, None)
        answer, suggestion = await server.answer("completion", uri, settings.completion_debounce_ms, work, none)
        server.report_findings("completion", uri, params.position, suggestion)
        return answer

    @server.command(STATS_COMMAND)
    def stats(*args: Any) -> dict[str, Any]:
        loaded = server.engines.loaded
        service = loaded.service.stats if loaded else None
        return {
            "requests": dict(server.counts),
            "engine": None if loaded is None else {"backend": loaded.key.backend, "model": loaded.key.model,
                                                "threads": loaded.key.options.threads,
                                                "fimTemplate": loaded.engine_template},
            "service": None if service is None else {"completed": service.completed, "cancelled": dict(service.cancelled)},
            "settings": {"backend": server.settings.backend, "model": server.settings.model, "maxTokens": server.settings.max_tokens,
                         "debounceMs": server.settings.debounce_ms, "languages": dict(server.settings.languages),
                         "postprocess": server.settings.postprocess, "candidates": server.settings.candidates,
                         "security": server.settings.security, "secrets": server.settings.secrets,
                         "index": server.settings.index, "contextSources": list(server.settings.context_sources)},
            "indexes": {str(root): server.indexes.state(root) for root in server.indexes.roots},
        }

    @server.command(DOCUMENT_COMMAND)
    def document(*args: Any) -> dict[str, Any] | None:
        """The server's copy of a document (argument: its URI), to check it matches the editor's."""
        try:
            doc = server.document(str(args[0]) if args else "")
        except InputError as exc:
            server.tell(types.MessageType.Warning, f"{DOCUMENT_COMMAND}: {exc}")
            return None
        return {"uri": doc.uri, "version": doc.version, "languageId": doc.language, "text": doc.text}

    @server.command(CONTEXT_COMMAND)
    async def context(*args: Any) -> dict[str, Any] | None:
        """What the workspace index holds for a document (argument: its URI), once the updates
        sent before this command are in, and the context of its last line suggestion."""
        uri = str(args[0]) if args else ""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        root = server.indexes.root_of(path)

        def look() -> dict[str, Any]:
            state = server.indexes.state(root) if root is not None else "outside the workspace folders"
            index = server.indexes.workspaces.get(root) if root is not None and state == "ready" else None
            rel = index.relative(path) if index is not None and path is not None else None
            return {"uri": uri, "root": None if root is None else str(root), "index": state, "path": rel,
                    "chunks": [c.text for c in index.chunks(rel)] if index is not None and rel in index.paths else [],
                    "lastContext": server.last_context.get(uri)}

        return await asyncio.wrap_future(server.indexes.after_updates(look))

    return server

;;; forecode-eglot.el --- forecode's language server in Eglot  -*- lexical-binding: t; -*-

;; Load from your init file: (load "/path/to/forecode/editors/emacs/forecode-eglot.el")
;; then M-x eglot in a Python buffer.  Eglot (Emacs 29+) shows forecode's suggestions as
;; completion candidates (completion-at-point); it has no inline (ghost-text) completions.

;;; Code:

(require 'eglot)

(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode)
               . ("forecode" "lsp"   ; add "--model" "/path/to/checkpoint" for your own model
                  :initializationOptions
                  (:forecode (:maxTokens 48 :completionDebounceMs 0
                              :languages (:markdown :json-false))))))

;; Sent with workspace/didChangeConfiguration; change it and run M-x eglot-signal-didChangeConfiguration.
(setq-default eglot-workspace-configuration
              '(:forecode (:maxTokens 48)))

(provide 'forecode-eglot)
;;; forecode-eglot.el ends here

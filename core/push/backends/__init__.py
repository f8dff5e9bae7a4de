"""One module per push backend, as django/core/mail/backends/; `core.push.BACKENDS` names them."""

"""One module per SMS backend, as django/core/mail/backends/; `core.sms.BACKENDS` names them."""

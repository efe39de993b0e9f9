"""Old import path of the error-reply helpers; they are in :mod:`peek_plugin_base.vortex.errors`."""

from peek_plugin_base.vortex.errors import INTERNAL_MESSAGE, error_reply, new_error_id

__all__ = ["INTERNAL_MESSAGE", "error_reply", "new_error_id"]

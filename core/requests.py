"""What one request has already looked up, so that it is looked up once per request.

The navigation, the view and the services of one request all ask who the user is to the
organisation (an HR admin? their staff record?). `remembered` answers each question once per
request, from a memory that lives as long as the request (`request_memory`, a middleware), kept in
a context variable rather than on the user object, so a user object never carries a stale answer
from one request, test or command into the next. Outside a request there is no memory: every
question is asked afresh.
"""

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memory: ContextVar[dict | None] = ContextVar("request_memory", default=None)


def request_memory(get_response):
    """Middleware: a fresh memory for each request, forgotten when it ends."""

    def middleware(request):
        token = _memory.set({})
        try:
            return get_response(request)
        finally:
            _memory.reset(token)

    return middleware


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per request for each `key` (every time, outside a request)."""
    memory = _memory.get()
    if memory is None:
        return compute()
    if key not in memory:
        memory[key] = compute()
    return memory[key]

"""``TransformError``: a marked loop the rewriter cannot handle, reported like a syntax error."""

from __future__ import annotations


class TransformError(SyntaxError):
    """A rejected ``with checkpoint(...)`` block, located in the user's file.

    A ``SyntaxError`` subclass so that tracebacks show the offending line with a caret, and so that
    tools which already report syntax errors (the import hook, the CLI, pytest) report these too.
    ``lineno`` and ``offset`` are 1-based, as for ``SyntaxError``.
    """

    def __init__(self, message: str, filename: str = "<string>", lineno: int | None = None,
                 offset: int | None = None, text: str | None = None):
        super().__init__(message, (filename, lineno, offset, text))

    def __reduce__(self):  # SyntaxError pickles as (msg, details); rebuild with our signature
        return type(self), (self.msg, self.filename, self.lineno, self.offset, self.text)

    def located(self) -> str:
        """``line:col: message``, the form the golden ``.err`` fixtures store."""
        return f"{self.lineno}:{self.offset}: {self.msg}"


class InternalError(RuntimeError):
    """A bug in the rewriter (not in the user's code); the message shows the generated source."""


class Locator:
    """Turns a libcst node of the parsed user module into a located ``TransformError``.

    Positions are computed lazily, only when an error is reported: the metadata pass costs as
    much as the parse itself. ``line_offset`` shifts lines when the parsed text is an excerpt of
    the user's file (the decorator parses one function).
    """

    def __init__(self, module, filename: str, line_offset: int = 0, lines=None):
        self.module = module
        self.filename = filename
        self.line_offset = line_offset
        self._lines = lines
        self._positions = None

    def error(self, node, message: str) -> TransformError:
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        start = self._positions[node].start
        lines = self._lines if self._lines is not None else self.module.code.splitlines()
        index = start.line - 1 + self.line_offset
        text = lines[index].rstrip("\r\n") if index < len(lines) else None
        return TransformError(message, self.filename, start.line + self.line_offset, start.column + 1, text)

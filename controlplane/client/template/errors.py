"""TemplateError: a template that does not parse or fails to render.

A ValidationError (the template is the job author's input), rendered as Go
does, `template: NAME:LINE:COL: message`, so task events locate the problem.
"""

from __future__ import annotations

from controlplane.errors import ValidationError


class TemplateError(ValidationError):
    def __init__(self, message: str, name: str = "", line: int = 0, col: int = 0) -> None:
        self.detail = message
        self.name = name
        self.line = line
        self.col = col
        where = name
        if line:
            where = f"{name}:{line}:{col}" if col else f"{name}:{line}"
        super().__init__(f"template: {where}: {message}" if where else f"template: {message}")

"""Type stub of the `aviary` module of script canaries (docs/scripts.md).

Editors: copy this file beside your scripts, or add aviary's `blueprints/` folder to the
Python path of your editor (VS Code / Pyright: `python.analysis.extraPaths`).
"""

from typing import Any, Callable, ContextManager, Dict, Mapping, Optional, TypeVar, Union

_T = TypeVar("_T")

class ActionError(Exception):
    """A page or HTTP action that did not work."""

    kind: str  # "failed" | "error" | "timeout"
    def __init__(self, message: str, kind: str = ...) -> None: ...

class HttpError(ActionError):
    """An HTTP request that got no response."""

class Response:
    status: int
    headers: Dict[str, str]
    text: str
    url: str
    def json(self) -> Any: ...

class Http:
    def request(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = ...,
        json: Any = ...,
        data: Union[str, bytes, Mapping[str, str], None] = ...,
        timeout: Optional[float] = ...,
    ) -> Response: ...
    def get(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = ...,
        json: Any = ...,
        data: Union[str, bytes, Mapping[str, str], None] = ...,
        timeout: Optional[float] = ...,
    ) -> Response: ...
    def post(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = ...,
        json: Any = ...,
        data: Union[str, bytes, Mapping[str, str], None] = ...,
        timeout: Optional[float] = ...,
    ) -> Response: ...
    def put(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = ...,
        json: Any = ...,
        data: Union[str, bytes, Mapping[str, str], None] = ...,
        timeout: Optional[float] = ...,
    ) -> Response: ...
    def delete(
        self,
        url: str,
        headers: Optional[Mapping[str, str]] = ...,
        json: Any = ...,
        data: Union[str, bytes, Mapping[str, str], None] = ...,
        timeout: Optional[float] = ...,
    ) -> Response: ...

class Page:
    def goto(self, url: str, timeout: Optional[float] = ...) -> None: ...
    def click(self, selector: str, timeout: Optional[float] = ...) -> None: ...
    def type(self, selector: str, text: str, timeout: Optional[float] = ...) -> None: ...
    def select(self, selector: str, value: str, timeout: Optional[float] = ...) -> None: ...
    def hover(self, selector: str, timeout: Optional[float] = ...) -> None: ...
    def press(self, key: str, selector: Optional[str] = ..., timeout: Optional[float] = ...) -> None: ...
    def text(self, selector: str, timeout: Optional[float] = ...) -> str: ...
    def wait_for_selector(self, selector: str, timeout: Optional[float] = ...) -> None: ...
    def wait_for_navigation(self, timeout: Optional[float] = ...) -> Optional[str]: ...
    def evaluate(self, js: str) -> Any: ...
    def screenshot(self, name: str) -> str: ...
    @property
    def url(self) -> str: ...
    def title(self) -> str: ...

class Log:
    def info(self, message: str, *args: Any) -> None: ...
    def warning(self, message: str, *args: Any) -> None: ...
    def warn(self, message: str, *args: Any) -> None: ...
    def error(self, message: str, *args: Any) -> None: ...
    def debug(self, message: str, *args: Any) -> None: ...

class Canary:
    env: Dict[str, str]
    http: Http
    log: Log
    def page(self) -> Page: ...
    def step(self, name: str) -> ContextManager[Any]: ...
    def execute_step(self, name: str, fn: Callable[[], _T]) -> _T: ...
    def add_execution_error(self, message: str) -> None: ...
    def set_config(
        self,
        screenshot_on_step_start: Optional[bool] = ...,
        screenshot_on_step_success: Optional[bool] = ...,
        screenshot_on_step_failure: Optional[bool] = ...,
        continue_on_step_failure: Optional[bool] = ...,
    ) -> None: ...

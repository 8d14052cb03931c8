"""The `aviary` module a canary script imports: the canary object its handler receives.

Every page and HTTP action is a request to the aviary run over a pipe (the run keeps the
browser, the HAR and the report); this module only shapes the API. See docs/scripts.md.
"""

import json as _json
import os as _os
import sys as _sys
import traceback as _traceback

import _aviary

__all__ = ["Canary", "Page", "Http", "Response", "Log", "ActionError", "HttpError"]

_SCRIPT = None  # the script's file: its frames give an error's file:line


class ActionError(Exception):
    """A page or HTTP action that did not work; `kind` is failed, error or timeout."""

    def __init__(self, message, kind="failed"):
        super().__init__(message)
        self.kind = kind


class HttpError(ActionError):
    """An HTTP request that got no response (refused, timed out, bad URL)."""


class _Stop(BaseException):
    """The run ended (its timeout): the script must not go on."""


def _call(op, **args):
    args["op"] = op
    line = _aviary.call(_json.dumps(args))
    if line is None:
        raise _Stop("the run stopped the script")
    reply = _json.loads(line)
    if "ok" in reply:
        return reply["ok"]
    error = reply["err"]
    cls = HttpError if op == "http" else ActionError
    raise cls(error["message"], error["kind"])


def _where(exc):
    """`file:line` of the deepest frame of the script (or of a module beside it) in the traceback."""
    frames = _traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f.filename != "<aviary>" and not f.filename.startswith("<frozen")]
    if not mine:
        return None, None
    chosen = [f for f in mine if f.filename == _SCRIPT] or mine
    frame = chosen[-1]
    name = _os.path.relpath(frame.filename) if _os.path.isabs(frame.filename) else frame.filename
    return f"{name}:{frame.lineno}", frame.line


def _describe(exc):
    where, line = _where(exc)
    kind = exc.kind if isinstance(exc, ActionError) else "failed"
    message = str(exc)
    if isinstance(exc, AssertionError):
        message = message or (f"assertion failed: {line}" if line else "assertion failed")
    elif not isinstance(exc, ActionError):
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if where:
        message = f"{message} ({where})"
    return {"kind": kind, "message": message}


class Response:
    """An HTTP response: `status`, `headers` (lower-case names), `text`, `url`, `json()`."""

    def __init__(self, raw):
        self.status = raw["status"]
        self.headers = raw["headers"]
        self.text = raw["text"]
        self.url = raw["url"]

    def json(self):
        """The body parsed as JSON."""
        return _json.loads(self.text)

    def __repr__(self):
        return f"<Response {self.status} {self.url}>"


class Http:
    """HTTP requests outside the browser, recorded in the run's HAR with their timing phases."""

    def request(self, method, url, headers=None, json=None, data=None, timeout=None):
        """Sends a request; `json=` a value sent as JSON, `data=` a str, bytes or form dict."""
        headers = dict(headers or {})
        names = {k.lower() for k in headers}
        body = None
        if json is not None:
            body = _json.dumps(json)
            if "content-type" not in names:
                headers["content-type"] = "application/json"
        elif isinstance(data, dict):
            from urllib.parse import urlencode

            body = urlencode(data)
            if "content-type" not in names:
                headers["content-type"] = "application/x-www-form-urlencoded"
        elif isinstance(data, bytes):
            body = data.decode("utf-8", "replace")
        elif data is not None:
            body = str(data)
        pairs = [[str(k), str(v)] for k, v in headers.items()]
        raw = _call("http", method=str(method).upper(), url=str(url), headers=pairs, body=body, timeout=timeout)
        return Response(raw)

    def get(self, url, **kwargs):
        """A GET request (see `request`)."""
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        """A POST request (see `request`)."""
        return self.request("POST", url, **kwargs)

    def put(self, url, **kwargs):
        """A PUT request (see `request`)."""
        return self.request("PUT", url, **kwargs)

    def delete(self, url, **kwargs):
        """A DELETE request (see `request`)."""
        return self.request("DELETE", url, **kwargs)


class Page:
    """The run's browser page (an isolated context); selectors as in workflow steps."""

    def goto(self, url, timeout=None):
        """Loads `url` and waits for its load event."""
        _call("goto", url=str(url), timeout=timeout)

    def click(self, selector, timeout=None):
        """Clicks the element."""
        _call("click", selector=selector, timeout=timeout)

    def type(self, selector, text, timeout=None):
        """Types `text` into the field (replacing its value)."""
        _call("type", selector=selector, text=str(text), timeout=timeout)

    def select(self, selector, value, timeout=None):
        """Chooses `value` in a <select>."""
        _call("select", selector=selector, value=str(value), timeout=timeout)

    def hover(self, selector, timeout=None):
        """Moves the mouse over the element."""
        _call("hover", selector=selector, timeout=timeout)

    def press(self, key, selector=None, timeout=None):
        """Presses and releases a key (`Enter`, `Tab`, `a`), in the element when given."""
        _call("press", key=key, selector=selector, timeout=timeout)

    def text(self, selector, timeout=None):
        """The element's visible text."""
        return _call("text", selector=selector, timeout=timeout)

    def wait_for_selector(self, selector, timeout=None):
        """Waits until the element is visible (timeout in seconds)."""
        _call("wait_for_selector", selector=selector, timeout=timeout)

    def wait_for_navigation(self, timeout=None):
        """Waits for the new document the last click or key press opened."""
        return _call("wait_for_navigation", timeout=timeout)

    def evaluate(self, js):
        """The value of a JavaScript expression in the page (JSON values)."""
        return _call("evaluate", js=js)

    def screenshot(self, name):
        """Saves a screenshot into the run folder; returns its file name."""
        return _call("screenshot", name=str(name))

    @property
    def url(self):
        """The page's URL."""
        return _call("url")

    def title(self):
        """The page's title."""
        return _call("title")


class Log:
    """Lines for the run's log.txt: `info`, `warning`, `error`, `debug` (`%` formatting)."""

    def _line(self, level, message, args):
        text = str(message) % args if args else str(message)
        _call("log", level=level, message=text)

    def info(self, message, *args):
        """An info line."""
        self._line("info", message, args)

    def warning(self, message, *args):
        """A warning line."""
        self._line("warning", message, args)

    warn = warning

    def error(self, message, *args):
        """An error line."""
        self._line("error", message, args)

    def debug(self, message, *args):
        """A debug line."""
        self._line("debug", message, args)


class _Step:
    def __init__(self, canary, name):
        self._canary = canary
        self._name = str(name)

    def __enter__(self):
        if self._canary._in_step:
            raise RuntimeError(f"step {self._name!r} inside step {self._canary._in_step!r}: steps cannot be nested")
        _call("step_begin", name=self._name)
        self._canary._in_step = self._name
        return self

    def __exit__(self, kind, exc, tb):
        self._canary._in_step = None
        if exc is not None and isinstance(exc, _Stop):
            return False
        error = _describe(exc) if exc is not None else None
        go_on = _call("step_end", error=error)
        if exc is None:
            return False
        if go_on:
            return True  # continue_on_step_failure: the next step runs
        try:
            exc.__aviary_reported__ = True  # already the step's failure: not the run's too
        except AttributeError:
            pass
        return False


class Canary:
    """What the handler receives: page(), step(), execute_step(), http, env, log, ..."""

    def __init__(self, env):
        self.env = dict(env)
        self.http = Http()
        self.log = Log()
        self._page = Page()
        self._in_step = None

    def page(self):
        """The run's page (the browser starts on first use)."""
        return self._page

    def step(self, name):
        """A report step, as a context manager: `with canary.step("open home"): ...`."""
        return _Step(self, name)

    def execute_step(self, name, fn):
        """Runs `fn()` as a step; returns its value."""
        with self.step(name):
            return fn()

    def add_execution_error(self, message):
        """Marks the run failed with this message; the script goes on."""
        _call("add_execution_error", message=str(message))

    def set_config(
        self,
        screenshot_on_step_start=None,
        screenshot_on_step_success=None,
        screenshot_on_step_failure=None,
        continue_on_step_failure=None,
    ):
        """Changes the run's step settings from here on (None leaves one as it is)."""
        _call(
            "set_config",
            screenshot_on_step_start=screenshot_on_step_start,
            screenshot_on_step_success=screenshot_on_step_success,
            screenshot_on_step_failure=screenshot_on_step_failure,
            continue_on_step_failure=continue_on_step_failure,
        )


def _run(start_line):
    """Loads the script, calls its handler; returns None or the run's error."""
    global _SCRIPT
    import importlib.util
    import site

    start = _json.loads(start_line)
    _SCRIPT = _os.path.abspath(start["file"])
    for path in reversed(start["paths"]):
        if path.endswith("site-packages"):
            site.addsitedir(path)
            _sys.path.remove(path)
        _sys.path.insert(0, path)
    _sys.argv = [start["file"]]
    try:
        spec = importlib.util.spec_from_file_location("__canary__", _SCRIPT)
        module = importlib.util.module_from_spec(spec)
        _sys.modules["__canary__"] = module
        spec.loader.exec_module(module)
        handler = getattr(module, start["handler"], None)
        if not callable(handler):
            return {"kind": "error", "message": f"{start['file']} has no function `{start['handler']}`"}
        handler(Canary(start["env"]))
    except _Stop:
        return None
    except SystemExit as exc:
        if exc.code in (None, 0):
            return None
        return {"kind": "error", "message": f"the script called sys.exit({exc.code!r})"}
    except BaseException as exc:  # noqa: B036 - every exception ends the run with its message
        if getattr(exc, "__aviary_reported__", False):
            return None
        return _describe(exc)
    finally:
        _sys.stdout.flush()
        _sys.stderr.flush()
    return None

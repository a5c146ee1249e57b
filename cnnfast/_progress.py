"""The Keras-style progress line that Sequential.fit prints with verbose=1:

    Epoch 1/3
    12/12 [==============================] - 1s 52ms/step - loss: 0.4711 - accuracy: 0.8021

On a terminal the line is redrawn in place ('\\r') as the steps go by; on any other stream (a
file, a pipe, a notebook log) only the finished line is written, so logs hold one line per epoch.
"""
import time


def _format_value(v):
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.4e}"


def _format_duration_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:          # a closed stream
        return False


class ProgressBar:
    """Progress of one epoch of `steps` steps, written to `stream`.

    live=True redraws the line at most every `interval` seconds when the stream is a terminal;
    otherwise (or with live=False) only `finish` writes, one whole line."""

    def __init__(self, steps, stream, width=30, live=True, interval=0.05):
        self.steps = steps
        self.stream = stream
        self.width = width
        self.live = live and _is_terminal(stream)
        self.interval = interval
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn_width = 0

    def update(self, step, values):
        """`step` steps done; `values` the running metrics (name -> float)."""
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last_draw < self.interval:
            return
        self._last_draw = now
        elapsed = now - self.start
        eta = elapsed / step * (self.steps - step) if step else 0.0
        self._draw(f"{self._bar(step)} - ETA: {eta:.0f}s{self._metrics(values)}", end="")

    def finish(self, values):
        """The epoch is over: write the final line with the total time, ms/step and `values`."""
        elapsed = time.perf_counter() - self.start
        per_step = _format_duration_per_step(elapsed / max(self.steps, 1))
        self._draw(f"{self._bar(self.steps)} - {elapsed:.0f}s {per_step}{self._metrics(values)}",
                   end="\n")

    def _bar(self, step):
        digits = len(str(self.steps))
        done = min(self.width * step // max(self.steps, 1), self.width)
        bar = ("=" * (done - 1) + ("=" if step >= self.steps else ">")) if done else ""
        bar += "." * (self.width - done)
        return f"{step:{digits}d}/{self.steps} [{bar}]"

    @staticmethod
    def _metrics(values):
        return "".join(f" - {k}: {_format_value(v)}" for k, v in values.items())

    def _draw(self, line, end):
        if self.live:
            pad = max(self._drawn_width - len(line), 0)
            self.stream.write("\r" + line + " " * pad + end)
            self._drawn_width = 0 if end else len(line)
        else:
            self.stream.write(line + end)
        self.stream.flush()

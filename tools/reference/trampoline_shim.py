"""The two names torchsde takes from the `trampoline` package (PyPI, not installed here), written anew.

torchsde's BrownianInterval walks its binary tree with generators instead of recursion: a generator yields
another generator to call it and receives its return value; it raises `TailCall(generator)` to be replaced
by that generator. `trampoline(generator)` runs such a chain on an explicit stack and returns the value the
outermost generator returns. golden_brownian.py installs this module as `trampoline` before importing
torchsde.
"""


class TailCall(BaseException):
    def __init__(self, generator):
        super().__init__()
        self.generator = generator


def trampoline(generator):
    stack = [generator]
    sent = None
    while True:
        try:
            called = stack[-1].send(sent)
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value
            sent = done.value
        except TailCall as tail:
            stack[-1] = tail.generator
            sent = None
        else:
            stack.append(called)
            sent = None
